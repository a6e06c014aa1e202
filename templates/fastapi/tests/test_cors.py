"""CORS: only the configured origins, exactly; never a wildcard or a reflected origin."""

import pytest
from fastapi.testclient import TestClient

from .conftest import TEST_ORIGIN

HEALTH = "/api/v1/health"


def test_allowed_origin_gets_exactly_itself(client: TestClient) -> None:
    response = client.get(HEALTH, headers={"Origin": TEST_ORIGIN})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == TEST_ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    vary = [part.strip().lower() for part in response.headers.get("vary", "").split(",")]
    assert "origin" in vary


def test_a_response_to_no_origin_still_varies_by_origin(client: TestClient) -> None:
    # CORS is skipped without an Origin (middleware/cors.py); a shared cache must still not
    # hand this response to a cross-origin request.
    response = client.get(HEALTH)
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    vary = [part.strip().lower() for part in response.headers.get("vary", "").split(",")]
    assert vary.count("origin") == 1


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",
        "http://app.example.com",  # same host, plain HTTP
        "https://app.example.com.evil.example",  # suffix look-alike
        "https://evilapp.example.com",
        "https://app.example.com:8443",  # another port is another origin
        "https://app.example.co",
        "https://sub.app.example.com",
        f"{TEST_ORIGIN}/",
    ],
)
def test_other_origins_get_no_cors_headers(client: TestClient, origin: str) -> None:
    response = client.get(HEALTH, headers={"Origin": origin})
    # Without Access-Control-Allow-Origin the browser shares nothing with that origin.
    assert "access-control-allow-origin" not in response.headers


def test_preflight_for_allowed_origin(client: TestClient) -> None:
    response = client.options(
        "/api/v1/items",
        headers={
            "Origin": TEST_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == TEST_ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed_headers = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers
    assert "content-type" in allowed_headers


@pytest.mark.parametrize("origin", ["https://evil.example", "null"])
def test_preflight_for_other_origin_is_refused(client: TestClient, origin: str) -> None:
    response = client.options(
        "/api/v1/items",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_preflight_for_unlisted_method_is_refused(client: TestClient) -> None:
    response = client.options(
        "/api/v1/items",
        headers={"Origin": TEST_ORIGIN, "Access-Control-Request-Method": "PUT"},
    )
    assert response.status_code == 400
