"""Drives a generated `oidc,session` service through a real OpenID provider (provider.mjs).

    python drive.py --service https://localhost:SPORT --ca certs/ca.pem \
        --issuer http://127.0.0.1:P --audience AUD --other-audience AUD2

The browser's part: the service's login redirect, the provider's login and consent forms, the
service's callback and the session it opens (and that logout closes), the callback refusing a
spent, forged or cookie-less state, and a user whose roles map to no role getting no session.
A command-line tool's part: authorization code + PKCE against the provider as its public `cli`
client, and the service taking that JWT access token, but not one whose payload was altered,
one for another audience, nor an ID token. Prints `oidc e2e ok` when every check passes;
otherwise exits 1 naming the first check that failed. Needs only httpx.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import secrets
import sys
import time
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import httpx

CLI_CLIENT_ID = "cli"
CLI_REDIRECT_URI = "http://127.0.0.1/cli-callback"
LOGIN_COOKIE = "__Host-oidc-login"
SESSION_COOKIE = "__Host-session"
TIMEOUT = 10


class CheckFailed(Exception):
    pass


def check(condition: object, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def shown(response: httpx.Response) -> str:
    request = response.request
    return f"{request.method} {request.url} -> {response.status_code}: {response.text[:800]}"


def expect_status(response: httpx.Response, *statuses: int) -> None:
    check(
        response.status_code in statuses,
        f"expected {' or '.join(map(str, statuses))}: {shown(response)}",
    )


def query(url: str) -> dict[str, str]:
    """The query of `url`, each parameter once (a repeated one fails the check)."""
    params = parse_qs(urlsplit(url).query, keep_blank_values=True)
    repeated = [name for name, values in params.items() if len(values) > 1]
    check(not repeated, f"repeated query parameters {repeated} in {url}")
    return {name: values[0] for name, values in params.items()}


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    params = {**query(url), **changes}
    return urlunsplit(parts._replace(query=urlencode(params)))


def set_cookie(response: httpx.Response, name: str) -> tuple[str, dict[str, str]] | None:
    """The value and attributes (names lowercased) of the `Set-Cookie` for `name`, if any."""
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = header.split(";")
        cookie_name, _, value = first.strip().partition("=")
        if cookie_name == name:
            parsed = {}
            for attribute in attributes:
                key, _, attr_value = attribute.strip().partition("=")
                parsed[key.lower()] = attr_value
            return value, parsed
    return None


def expect_no_session(response: httpx.Response, status: int, what: str) -> None:
    """Checks a callback was refused with `status` and set no session cookie."""
    expect_status(response, status)
    check(set_cookie(response, SESSION_COOKIE) is None, f"{what} set a session cookie")


def check_host_cookie(response: httpx.Response, name: str, same_site: str | None) -> str:
    """Checks the `__Host-` cookie `name` is set as that prefix demands; returns its value."""
    found = set_cookie(response, name)
    if found is None:
        headers = response.headers.get_list("set-cookie")
        raise CheckFailed(f"no {name} cookie set: {shown(response)}; Set-Cookie: {headers}")
    value, attributes = found
    check(value, f"{name} is set empty")
    for flag in ("secure", "httponly"):
        check(flag in attributes, f"{name} lacks {flag}: {attributes}")
    check(attributes.get("path") == "/", f"{name} must have Path=/: {attributes}")
    check("domain" not in attributes, f"{name} must not have a Domain: {attributes}")
    if same_site is not None:
        actual = attributes.get("samesite", "").lower()
        check(actual == same_site, f"{name} must be SameSite={same_site}, is {actual or 'unset'}")
    return value


def b64url_json(segment: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    segments = token.split(".")
    check(len(segments) == 3, f"not a signed JWT: {token[:40]}...")
    return b64url_json(segments[0]), b64url_json(segments[1])


class Forms(HTMLParser):
    """The forms of a page: each one's action and its inputs' names and values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.forms.append((attributes.get("action", ""), {}))
        elif tag == "input" and self.forms and "name" in attributes:
            self.forms[-1][1][attributes["name"]] = attributes.get("value", "")


class Provider:
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        with httpx.Client(timeout=TIMEOUT) as client:
            response = client.get(f"{issuer}/.well-known/openid-configuration")
        expect_status(response, 200)
        self.metadata: dict[str, Any] = response.json()
        check(
            self.metadata["issuer"] == issuer,
            f"the provider's issuer is {self.metadata['issuer']}, not {issuer}",
        )

    def authorize(self, authorization_url: str, user: str, redirect_uri: str) -> str:
        """Signs `user` in at the provider as a browser would, from the authorization request to
        the provider's redirect to `redirect_uri` (not followed); returns that redirect's URL.

        Each call is a new browser: no provider session, so login and consent both happen.
        """
        endpoint = self.metadata["authorization_endpoint"]
        check(
            authorization_url.startswith(endpoint + "?"),
            f"{authorization_url} is not at {endpoint}",
        )
        prompts: list[str] = []
        with httpx.Client(timeout=TIMEOUT) as browser:
            response = browser.get(authorization_url)
            for _ in range(12):
                if response.is_redirect:
                    location = urljoin(str(response.url), response.headers["location"])
                    if location.startswith(redirect_uri + "?"):
                        params = query(location)
                        check(
                            "error" not in params,
                            f"the provider refused the authorization request: {params}",
                        )
                        check(
                            prompts == ["login", "consent"],
                            f"expected login then consent, saw {prompts}",
                        )
                        check(
                            params.get("iss") == self.issuer,
                            f"no iss={self.issuer} in {location} (RFC 9207)",
                        )
                        return location
                    check(
                        location.startswith(self.issuer + "/"),
                        f"the provider sent the browser to {location}",
                    )
                    response = browser.get(location)
                    continue
                # The development interactions: one form per page, its prompt in a hidden input.
                expect_status(response, 200)
                parser = Forms()
                parser.feed(response.text)
                check(
                    len(parser.forms) == 1,
                    f"expected one form at {response.url}: {response.text[:800]}",
                )
                action, fields = parser.forms[0]
                prompt = fields.get("prompt", "")
                prompts.append(prompt)
                if prompt == "login":
                    # The development interactions take any password.
                    fields.update(login=user, password=secrets.token_urlsafe(8))
                else:
                    check(prompt == "consent", f"unexpected prompt {prompt!r} at {response.url}")
                response = browser.post(urljoin(str(response.url), action), data=fields)
        raise CheckFailed(
            f"the provider did not redirect to {redirect_uri} within 12 steps (prompts {prompts})"
        )

    def cli_access_token(self, user: str, resource: str | None = None) -> tuple[str, str]:
        """Authorization code + PKCE (S256) as the public `cli` client, as a command-line tool
        would, for `user`; returns the JWT access token (for `resource`, else the provider's
        default audience) and the ID token."""
        verifier = secrets.token_urlsafe(48)
        state = secrets.token_urlsafe(16)
        params = {
            "client_id": CLI_CLIENT_ID,
            "response_type": "code",
            "redirect_uri": CLI_REDIRECT_URI,
            "scope": "openid api",
            "state": state,
            "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
            "code_challenge_method": "S256",
        }
        if resource is not None:
            params["resource"] = resource
        url = f"{self.metadata['authorization_endpoint']}?{urlencode(params)}"
        redirected = query(self.authorize(url, user, CLI_REDIRECT_URI))
        check(
            redirected.get("state") == state,
            f"the provider returned state {redirected.get('state')}, not {state}",
        )
        with httpx.Client(timeout=TIMEOUT) as client:
            response = client.post(
                self.metadata["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": redirected["code"],
                    "redirect_uri": CLI_REDIRECT_URI,
                    "client_id": CLI_CLIENT_ID,
                    "code_verifier": verifier,
                },
            )
        expect_status(response, 200)
        body = response.json()
        check(body.get("token_type") == "Bearer", f"token_type is not Bearer: {body}")
        return body["access_token"], body["id_token"]


class Driver:
    def __init__(self, args: argparse.Namespace) -> None:
        self.service = args.service.rstrip("/")
        self.api = f"{self.service}/api/v1"
        self.ca = args.ca
        self.audience = args.audience
        self.other_audience = args.other_audience
        self.provider = Provider(args.issuer)
        self.redirect_uri = f"{self.api}/auth/oidc/callback"
        self.states: set[str] = set()
        # A token the service accepted, to present again once it has expired.
        self.expired = ""

    def client(self, cookies: dict[str, str] | None = None) -> httpx.Client:
        """A client of the service, trusting only its CA; redirects are checked, not followed."""
        return httpx.Client(verify=self.ca, timeout=TIMEOUT, cookies=cookies)

    # --- The browser: the service's login, the provider, the service's callback ---------------

    def start_login(self, browser: httpx.Client) -> tuple[str, str]:
        """The service's login redirect; returns the authorization URL and the login cookie."""
        response = browser.get(f"{self.api}/auth/oidc/login")
        expect_status(response, 302, 303)
        location = response.headers["location"]
        params = query(location)
        expected = {
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "code_challenge_method": "S256",
        }
        for name, value in expected.items():
            check(
                params.get(name) == value,
                f"the login redirect has {name}={params.get(name)!r}, not {value!r}",
            )
        check(
            "openid" in params.get("scope", "").split(),
            f"the login redirect's scope lacks openid: {params}",
        )
        for name in ("client_id", "state", "nonce", "code_challenge"):
            check(params.get(name), f"the login redirect has no {name}: {location}")
        # Each login's state and nonce are its own (and so unguessable from another's).
        for name in ("state", "nonce"):
            check(params[name] not in self.states, f"the {name} {params[name]} was used before")
            self.states.add(params[name])
        cookie = check_host_cookie(response, LOGIN_COOKIE, same_site="lax")
        return location, cookie

    def sign_in(self, browser: httpx.Client, user: str) -> tuple[str, str]:
        """Starts a login in `browser` and signs `user` in at the provider; returns the callback
        URL the provider sent the browser to and the login cookie (which `browser` holds)."""
        authorization_url, cookie = self.start_login(browser)
        return self.provider.authorize(authorization_url, user, self.redirect_uri), cookie

    def signed_in(self, browser: httpx.Client, user: str) -> tuple[str, str, httpx.Response, str]:
        """Signs `user` in and follows the callback to a session; returns the callback URL, the
        login cookie, the callback's response and the session's CSRF token."""
        callback, login_cookie = self.sign_in(browser, user)
        response = browser.get(callback)
        expect_status(response, 200)
        csrf = response.json().get("csrf_token")
        check(isinstance(csrf, str) and csrf, f"the callback gave no csrf_token: {response.text}")
        return callback, login_cookie, response, csrf

    def session_login_me_logout(self) -> None:
        with self.client() as browser:
            callback, login_cookie, response, csrf = self.signed_in(browser, "alice")
            session = check_host_cookie(response, SESSION_COOKIE, same_site=None)
            me = browser.get(f"{self.api}/me")
            expect_status(me, 200)
            body = me.json()
            check(body.get("role") == "chief", f"alice's role is not chief: {body}")
            check(
                body.get("auth_method") == "session", f"alice's auth_method is not session: {body}"
            )
            check(
                "alice" in str(body.get("subject", "")),
                f"alice's subject does not name her: {body}",
            )
            check(isinstance(body.get("permissions"), list), f"no permissions list: {body}")
            print(f"ok: alice signed in at the provider: a session as {body['subject']!r}, chief")

            # The code and state were spent: the same callback, with the same login cookie, again.
            with self.client({LOGIN_COOKIE: login_cookie}) as replayer:
                replayed = replayer.get(callback)
            expect_no_session(replayed, 401, "a replayed callback")
            print("ok: the callback, replayed with its login cookie, is refused (401)")

            logout = browser.post(f"{self.api}/auth/logout", headers={"X-CSRF-Token": csrf})
            expect_status(logout, 204)
        with self.client({SESSION_COOKIE: session}) as stale:
            after = stale.get(f"{self.api}/me")
        expect_status(after, 401)
        print("ok: logout ends the session: its cookie is refused (401)")

    def provider_logout(self) -> None:
        """RP-initiated logout: the session ends here and the provider's logout page is named."""
        with self.client() as browser:
            _, _, _, csrf = self.signed_in(browser, "alice")
            logout = browser.post(f"{self.api}/auth/oidc/logout", headers={"X-CSRF-Token": csrf})
            expect_status(logout, 200)
            url = logout.json().get("end_session_url")
            endpoint = self.provider.metadata["end_session_endpoint"]
            check(
                isinstance(url, str) and url.startswith(endpoint),
                f"end_session_url {url!r} is not the provider's {endpoint}",
            )
            expect_status(browser.get(f"{self.api}/me"), 401)
        with httpx.Client(timeout=TIMEOUT) as provider:
            expect_status(provider.get(url), 200)
        print("ok: provider logout: the session ends and the provider's logout page answers")

    def callback_refuses_a_forged_state(self) -> None:
        with self.client() as browser:
            callback, _ = self.sign_in(browser, "alice")
            forged = browser.get(with_query(callback, state=secrets.token_urlsafe(32)))
        expect_no_session(forged, 401, "a forged state")
        print("ok: a callback with a state the login did not make is refused (401)")

    def callback_needs_the_login_cookie(self) -> None:
        # Login CSRF: a victim's browser sent to an attacker's callback URL has no such cookie.
        with self.client() as attacker:
            callback, _ = self.sign_in(attacker, "alice")
        with self.client() as victim:
            response = victim.get(callback)
        expect_no_session(response, 401, "a callback without the login cookie")
        print("ok: a callback from a browser that did not start the login is refused (401)")

    def unmapped_roles_get_no_session(self) -> None:
        with self.client() as browser:
            callback, _ = self.sign_in(browser, "mallory")
            response = browser.get(callback)
        expect_no_session(response, 403, "mallory's callback")
        print("ok: mallory, whose roles map to no role, gets 403 and no session")

    # --- The command-line tool: the provider's access tokens as bearer tokens ------------------

    def bearer(self, token: str, path: str = "/me") -> httpx.Response:
        with self.client() as client:
            return client.get(f"{self.api}{path}", headers={"Authorization": f"Bearer {token}"})

    def bearer_tokens(self) -> None:
        token, id_token = self.provider.cli_access_token("bob")
        header, claims = jwt_parts(token)
        check(header.get("alg") == "RS256", f"the access token is not RS256: {header}")
        check(
            header.get("typ") == "at+jwt", f"the access token is not an RFC 9068 at+jwt: {header}"
        )
        check(claims.get("aud") == self.audience, f"the access token's aud is {claims.get('aud')}")
        check(
            claims.get("iss") == self.provider.issuer,
            f"the access token's iss is {claims.get('iss')}",
        )
        check(
            claims.get("roles") == ["clerk"], f"bob's access token has roles {claims.get('roles')}"
        )

        me = self.bearer(token)
        expect_status(me, 200)
        body = me.json()
        check(body.get("auth_method") == "oidc", f"bob's auth_method is not oidc: {body}")
        check(body.get("role") == "clerk", f"bob's role is not clerk: {body}")
        expect_status(self.bearer(token, "/items"), 200)
        print("ok: bob's access token from the provider (cli client, PKCE) is accepted: role clerk")

        # The same token claiming chief: its signature no longer matches the payload.
        segments = token.split(".")
        forged_claims = {**claims, "roles": ["chief"]}
        segments[1] = b64url(json.dumps(forged_claims, separators=(",", ":")).encode())
        expect_status(self.bearer(".".join(segments)), 401)
        print("ok: the provider's token with its payload altered (roles: chief) is refused (401)")

        # Signed by the provider and unexpired, but not for this API.
        other, _ = self.provider.cli_access_token("bob", resource=self.other_audience)
        other_aud = jwt_parts(other)[1].get("aud")
        check(other_aud == self.other_audience, f"the other token's aud is {other_aud}")
        expect_status(self.bearer(other), 401)
        print("ok: the provider's token for another audience is refused (401)")

        # An ID token is signed by the same keys, but is for the client, not the API.
        expect_status(self.bearer(id_token), 401)
        print("ok: the provider's ID token is refused as a bearer token (401)")

        mallory, _ = self.provider.cli_access_token("mallory")
        expect_status(self.bearer(mallory), 403)
        print("ok: mallory's access token, whose roles map to no role, is refused (403)")
        self.expired = token

    def expired_token_is_refused(self, leeway: int) -> None:
        """Bob's token, accepted above (and so cached as verified), once past exp and leeway."""
        expires = int(jwt_parts(self.expired)[1]["exp"])
        time.sleep(max(0.0, expires + leeway + 1 - time.time()))
        expect_status(self.bearer(self.expired), 401)
        print(f"ok: bob's access token is refused once expired (exp + {leeway} s of leeway)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--service", required=True, help="https://localhost:PORT")
    parser.add_argument("--ca", required=True, help="the CA certificate the service's is issued by")
    parser.add_argument(
        "--issuer", required=True, help="the provider's issuer, http://127.0.0.1:PORT"
    )
    parser.add_argument("--audience", required=True, help="the audience the service accepts")
    parser.add_argument(
        "--other-audience", required=True, help="another audience the provider issues for"
    )
    parser.add_argument(
        "--leeway", type=int, default=30, help="the clock skew the service allows, in seconds"
    )
    args = parser.parse_args()
    try:
        driver = Driver(args)
        driver.session_login_me_logout()
        driver.provider_logout()
        driver.callback_refuses_a_forged_state()
        driver.callback_needs_the_login_cookie()
        driver.unmapped_roles_get_no_session()
        driver.bearer_tokens()
        driver.expired_token_is_refused(args.leeway)
    except (CheckFailed, httpx.HTTPError, KeyError, ValueError) as error:
        print(f"oidc e2e FAILED: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print("oidc e2e ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
