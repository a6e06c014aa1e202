"""A small OpenID provider for the tests, served over HTTP on loopback.

It serves discovery, its keys (JWKS) and a token endpoint, with keys made when it starts, so the
service talks to it exactly as to a real provider: over the network, through its discovery
document. The tests mint tokens with its private keys, rotate them, take the keys offline and
play the user's part in a login (`authorize`). The end-to-end run of the generator's own test
suite does the same against a real, certified provider (panva's oidc-provider).
"""

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

AUDIENCE = "https://api.example.test"
CLIENT_ID = "service-client"
CLIENT_SECRET = "client-secret-for-tests-only-0123456789"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    def public_jwk(self) -> dict[str, Any]:
        algorithm = RSAAlgorithm if self.alg in {"RS256", "PS256"} else ECAlgorithm
        jwk: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}


def new_key(alg: str = "RS256") -> SigningKey:
    if alg in {"RS256", "PS256"}:
        private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        private = ec.generate_private_key(ec.SECP256R1())
    return SigningKey(secrets.token_hex(8), alg, private)


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str
    claims: dict[str, Any]
    access_claims: dict[str, Any]


@dataclass
class LocalIssuer:
    """The provider's state; `url` is its issuer once `serve` has started it."""

    url: str = ""
    keys: list[SigningKey] = field(default_factory=lambda: [new_key()])
    jwks_online: bool = True
    token_endpoint_online: bool = True
    # Every request it served, by path: how often the service fetched what.
    hits: dict[str, int] = field(default_factory=dict)
    grants: dict[str, _Grant] = field(default_factory=dict)
    spent_codes: set[str] = field(default_factory=set)
    # The client's public key when it authenticates with private_key_jwt, else None (its secret).
    client_key: Any = None

    # --- tokens ---

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base: dict[str, Any] = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "user-1234",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "roles": [],
        }
        base.update(overrides)
        return {name: value for name, value in base.items() if value is not None}

    def token(
        self,
        *,
        key: SigningKey | None = None,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A token signed with `key` (default: the newest), with `claims` over the defaults."""
        signer = key or self.keys[-1]
        header = {"kid": signer.kid, "typ": "at+jwt", **(headers or {})}
        return jwt.encode(self.claims(**claims), signer.private, signer.alg, headers=header)

    def rotate(self, alg: str = "RS256") -> SigningKey:
        """A new signing key, published beside the old ones."""
        key = new_key(alg)
        self.keys.append(key)
        return key

    # --- the user's part of a login ---

    def authorize(
        self, query: dict[str, str], *, access_claims: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        """What the provider does when the user logs in: check the request, return a code.

        `claims` go into both tokens; `access_claims` only into the access token.
        """
        if query.get("response_type") != "code" or query.get("code_challenge_method") != "S256":
            raise AssertionError(f"not an authorization code + PKCE request: {query}")
        code = secrets.token_urlsafe(16)
        self.grants[code] = _Grant(
            query["client_id"],
            query["redirect_uri"],
            query["code_challenge"],
            query["nonce"],
            claims,
            {**claims, **(access_claims or {})},
        )
        return code

    def _client_authenticated(self, form: dict[str, str], authorization: str | None) -> bool:
        """The client's secret (HTTP Basic), or an RFC 7523 assertion signed with its key."""
        if self.client_key is None:
            expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            return authorization == f"Basic {expected}"
        if form.get("client_assertion_type") != JWT_BEARER:
            return False
        try:
            claims = jwt.decode(
                form.get("client_assertion", ""),
                self.client_key,
                algorithms=["RS256"],
                audience=f"{self.url}/token",
                issuer=CLIENT_ID,
                options={"require": ["exp", "jti", "sub"]},
            )
        except jwt.PyJWTError:
            return False
        return bool(claims["sub"] == CLIENT_ID)

    def _exchange(
        self, form: dict[str, str], authorization: str | None
    ) -> tuple[int, dict[str, Any]]:
        if not self._client_authenticated(form, authorization):
            return 401, {"error": "invalid_client"}
        code = form.get("code", "")
        grant = self.grants.pop(code, None)
        if grant is None or code in self.spent_codes:
            return 400, {"error": "invalid_grant"}
        self.spent_codes.add(code)
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if challenge.rstrip(b"=").decode() != grant.code_challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        if form.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant"}
        id_claims = {"aud": CLIENT_ID, "nonce": grant.nonce, **grant.claims}
        return 200, {
            "access_token": self.token(**grant.access_claims),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.token(headers={"typ": "JWT"}, **id_claims),
        }

    # --- HTTP ---

    def _answer(self, method: str, path: str, body: bytes, headers: Any) -> tuple[int, Any]:
        self.hits[path] = self.hits.get(path, 0) + 1
        if method == "GET" and path == "/.well-known/openid-configuration":
            return 200, {
                "issuer": self.url,
                "jwks_uri": f"{self.url}/jwks",
                "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token",
                "end_session_endpoint": f"{self.url}/logout",
                "code_challenge_methods_supported": ["S256"],
            }
        if method == "GET" and path == "/jwks":
            if not self.jwks_online:
                return 503, {"error": "unavailable"}
            return 200, {"keys": [key.public_jwk() for key in self.keys]}
        if method == "POST" and path == "/token":
            if not self.token_endpoint_online:
                return 503, {"error": "temporarily_unavailable"}
            form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
            return self._exchange(form, headers.get("Authorization"))
        return 404, {"error": "not found"}

    @contextmanager
    def serve(self) -> Iterator["LocalIssuer"]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                status, document = issuer._answer(
                    method, self.path.split("?", 1)[0], self.rfile.read(length), self.headers
                )
                payload = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: pytest shows what matters

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


# The one provider of a test session (conftest.py serves it): settings and credentials name it.
ISSUER = LocalIssuer()
