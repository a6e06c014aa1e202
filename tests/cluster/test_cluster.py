"""Issue 10.1: the generated service as it is deployed, proven on the real topology.

Two `serve` instances (two workers each, proxy mode, production settings) share one
PostgreSQL database and one redis-server, behind nginx terminating TLS with the project's own
`deploy/nginx.conf` (harness.py draws the picture). The tests run in the order of this file: the
functional ones first, then the audit trail of everything they sent, then the faults: `kill -9`
of an instance under load (started again afterwards), a Redis restart, a PostgreSQL restart.

A test collects every failed expectation with its evidence (statuses, headers, log lines) and
reports them together, so that one run shows all of what the service does wrong.
"""

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from harness import (
    ALLOWED_ORIGIN,
    API,
    APIKEY_MAX_FAILURES,
    FOREIGN_ORIGIN,
    LOGIN_IP_MAX_FAILURES,
    LOGIN_MAX_FAILURES,
    REQUEST_ID_HEADER,
    WORKERS,
    Cluster,
    Session,
    bearer_for,
    new_request_id,
    read_audit,
    session_for,
    session_login,
    session_of,
    token_login,
    wait_healthy,
)
from topology import HOST, Instance, wait_until

ME = f"{API}/me"
ITEMS = f"{API}/items"
# Nginx's address as the instances' clients see it: what the audit `ip` of proxied requests is.
CLIENT_ADDRESS = HOST
RECORDS_SECONDS = 15.0
RECOVERY_SECONDS = 60.0
OUTAGE_ROUNDS = 3
LOAD_CLIENTS = 4
PROXY_HEALTHY = 8


class Findings:
    """Every failed expectation of one test, reported together."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def check(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)

    def status(self, response: httpx.Response, expected: int | set[int], what: str) -> None:
        wanted = {expected} if isinstance(expected, int) else expected
        self.check(
            response.status_code in wanted,
            f"{what}: {response.status_code} (expected {sorted(wanted)}): {response.text[:300]}",
        )

    def done(self) -> None:
        assert not self.problems, f"{len(self.problems)} problem(s):\n" + "\n".join(
            f"- {problem}" for problem in self.problems
        )


def _api_key(client: httpx.Client, cluster: Cluster, role: str, name: str) -> tuple[str, str]:
    """(id, key) of a new API key made by the administrator through `client`."""
    created = client.post(
        f"{API}/api-keys", json={"name": name, "role": role}, headers=cluster.admin_headers
    )
    assert created.status_code == 201, f"create API key: {created.text}"
    body = created.json()
    return str(body["id"]), str(body["key"])


def _wait_for_records(
    cluster: Cluster, request_ids: list[str]
) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """The http_request records of every instance once each of `request_ids` has one (the
    writer is asynchronous); fails naming the ids still missing at the deadline."""
    deadline = time.monotonic() + RECORDS_SECONDS
    while True:
        found = cluster.http_records()
        missing = [request_id for request_id in request_ids if request_id not in found]
        if not missing:
            return found
        assert time.monotonic() < deadline, (
            f"{len(missing)} of {len(request_ids)} requests have no http_request record after "
            f"{RECORDS_SECONDS:.0f} s: {missing[:10]}"
        )
        time.sleep(0.1)


def test_the_cluster_settings_pass_the_production_selfcheck(cluster: Cluster) -> None:
    # The cluster runs as production would: this is the check the README asks for first.
    done = cluster.run_cli("selfcheck", "--production", check=False)
    assert done.returncode == 0, f"selfcheck --production:\n{done.stdout}{done.stderr}"


def test_only_the_proxy_is_served_and_forged_addresses_are_ignored(cluster: Cluster) -> None:
    f = Findings()
    admin = cluster.admin_headers
    with cluster.proxy() as via:
        f.status(via.get(f"{API}/health"), 200, "health through nginx")
        forged_id = new_request_id("forged-via-nginx")
        forged = via.get(
            ME, headers={**admin, "X-Forwarded-For": "203.0.113.9", REQUEST_ID_HEADER: forged_id}
        )
        f.status(forged, 200, "GET /me through nginx with a forged X-Forwarded-For")
        f.check(
            forged.headers.get(REQUEST_ID_HEADER) == forged_id,
            f"the incoming X-Request-ID was not kept: sent {forged_id}, "
            f"got {forged.headers.get(REQUEST_ID_HEADER)}",
        )
    untrusted_ids: list[str] = []
    believed: dict[str, str] = {}
    for instance in cluster.instances:
        with cluster.untrusted(instance) as peer:
            # Probes (a load balancer, a kubelet) reach the health check from anywhere.
            f.status(
                peer.get(f"{API}/health"), 200, f"health from an untrusted peer ({instance.name})"
            )
            request_id = new_request_id("untrusted")
            untrusted_ids.append(request_id)
            around = peer.get(
                ME,
                headers={
                    **admin,
                    "X-Forwarded-For": "203.0.113.10",
                    "X-Forwarded-Proto": "https",
                    REQUEST_ID_HEADER: request_id,
                },
            )
            f.status(around, 403, f"{instance.name}: GET /me around the proxy, forged headers")
            login = token_login(peer, cluster.admin.username, cluster.admin.password)
            f.status(login, 403, f"{instance.name}: login around the proxy")
        address = cluster.client_address()
        with cluster.direct(instance, address) as as_proxy:
            request_id = new_request_id("as-proxy")
            answer = as_proxy.get(ME, headers={**admin, REQUEST_ID_HEADER: request_id})
            f.status(answer, 200, f"{instance.name}: GET /me from the trusted proxy")
            believed[request_id] = address
            plain = as_proxy.get(ME, headers={**admin, "X-Forwarded-Proto": "http"})
            f.status(plain, 403, f"{instance.name}: a request the proxy took over plain HTTP")

    found = _wait_for_records(cluster, [forged_id, *untrusted_ids, *believed])
    for request_id, expected_ip, status in [
        (forged_id, CLIENT_ADDRESS, 200),
        *((rid, CLIENT_ADDRESS, 403) for rid in untrusted_ids),
        *((rid, ip, 200) for rid, ip in believed.items()),
    ]:
        for name, record in found[request_id]:
            f.check(
                record.get("ip") == expected_ip and record.get("status") == status,
                f"{request_id} on {name}: audit ip {record.get('ip')!r}, status "
                f"{record.get('status')} (expected {expected_ip}, {status})",
            )
    f.done()


def test_a_credential_from_one_instance_works_on_the_other(cluster: Cluster) -> None:
    f = Findings()
    a, b = cluster.instances
    user = cluster.new_user(cluster.roles[-1], "shared")
    with cluster.direct(a) as on_a, cluster.direct(b) as on_b, cluster.proxy() as via:
        token = bearer_for(on_a, user)
        session = session_for(on_b, user)
        _, key = _api_key(on_a, cluster, cluster.roles[-1], "shared key")
        credentials = [
            ("bearer token from a", token, "oauth2", user.username),
            ("session from b", session.headers, "session", user.username),
            ("API key from a", {"X-API-Key": key}, "apikey", None),
        ]
        for label, headers, method, subject in credentials:
            for where, client in (("a", on_a), ("b", on_b), ("nginx", via)):
                answer = client.get(ME, headers=headers)
                f.status(answer, 200, f"{label}, GET /me on {where}")
                if answer.status_code == 200:
                    body = answer.json()
                    f.check(body["auth_method"] == method, f"{label} on {where}: {body}")
                    f.check(subject is None or body["subject"] == subject, f"{label}: {body}")
    f.done()


def test_a_logout_on_one_instance_is_refused_on_the_other_at_once(cluster: Cluster) -> None:
    f = Findings()
    a, b = cluster.instances
    user = cluster.new_user(cluster.roles[-1], "logout")
    with cluster.direct(a) as on_a, cluster.direct(b) as on_b, cluster.proxy() as via:
        token = bearer_for(on_a, user)
        f.status(on_b.get(ME, headers=token), 200, "bearer token on b before the logout")
        f.status(on_a.post(f"{API}/auth/logout", headers=token), 204, "bearer logout on a")
        f.status(on_b.get(ME, headers=token), 401, "bearer token on b right after logout on a")
        f.status(via.get(ME, headers=token), 401, "bearer token through nginx after the logout")

        session = session_for(on_b, user)
        f.status(on_a.get(ME, headers=session.headers), 200, "session on a before the logout")
        logout = on_b.post(f"{API}/auth/logout", headers=session.headers)
        f.status(logout, 204, "session logout on b")
        f.status(on_a.get(ME, headers=session.headers), 401, "session on a after logout on b")
        f.status(via.get(ME, headers=session.headers), 401, "session through nginx after logout")
    f.done()


def test_a_password_change_on_one_instance_ends_the_other_logins_there(cluster: Cluster) -> None:
    f = Findings()
    a, b = cluster.instances
    user = cluster.new_user(cluster.roles[-1], "password")
    with cluster.direct(a) as on_a, cluster.direct(b) as on_b:
        changer = bearer_for(on_a, user)
        other_token = bearer_for(on_b, user)
        other_session = session_for(on_b, user)
        f.status(on_a.get(ME, headers=other_token), 200, "second token on a, before")
        f.status(on_b.get(ME, headers=other_session.headers), 200, "session on b, before")
        new_password = user.password + "-changed"
        change = on_a.post(
            f"{API}/me/password",
            json={"current_password": user.password, "new_password": new_password},
            headers=changer,
        )
        f.status(change, 204, "password change on a")
        f.status(on_b.get(ME, headers=other_session.headers), 401, "session on b after the change")
        f.status(on_b.get(ME, headers=other_token), 401, "second token on b after the change")
        f.status(on_a.get(ME, headers=other_token), 401, "second token on a after the change")
        f.status(token_login(on_b, user.username, user.password), 400, "old password on b")
        f.status(token_login(on_b, user.username, new_password), 200, "new password on b")
    f.done()


def test_a_demotion_on_one_instance_acts_on_the_other_at_once(cluster: Cluster) -> None:
    f = Findings()
    a, b = cluster.instances
    high, low = cluster.roles[-2], cluster.roles[-1]
    user = cluster.new_user(high, "demoted")
    with cluster.direct(a) as on_a, cluster.direct(b) as on_b:
        token = bearer_for(on_a, user)
        session = session_for(on_a, user)
        before = on_a.get(ME, headers=token)
        f.check(before.status_code == 200 and before.json()["role"] == high, before.text)
        f.status(on_a.get(ME, headers=session.headers), 200, "session on a, before")
        demote = on_b.patch(
            f"{API}/users/{user.id}", json={"role": low}, headers=cluster.admin_headers
        )
        f.status(demote, 200, "demotion on b")
        for label, headers in (("bearer token", token), ("session", session.headers)):
            after = on_a.get(ME, headers=headers)
            # Refused, or acting with the new role: never again with the old one.
            f.check(
                after.status_code == 401
                or (after.status_code == 200 and after.json()["role"] == low),
                f"{label} on a right after the demotion on b: {after.status_code} {after.text}",
            )
        # The session ends (a new id at the next login), as the project's own tests expect.
        f.status(on_a.get(ME, headers=session.headers), 401, "session on a after the demotion")
        if (
            "items:write" in cluster.permissions[high]
            and "items:write" not in cluster.permissions[low]
        ):
            write = on_a.post(ITEMS, json={"name": "after demotion"}, headers=token)
            f.status(write, {401, 403}, "a write the old role allowed, on a after the demotion")

        # A key never acts with more than its creator holds now, on every instance.
        top = cluster.roles[0]
        creator = cluster.new_user(top, "creator")
        creator_token = bearer_for(on_a, creator)
        created = on_a.post(
            f"{API}/api-keys", json={"name": "narrowed", "role": top}, headers=creator_token
        )
        f.status(created, 201, "key created on a by a second administrator")
        if created.status_code == 201:
            key = {"X-API-Key": str(created.json()["key"])}
            f.status(on_b.get(ME, headers=key), 200, "the key on b, before")
            demote = on_a.patch(
                f"{API}/users/{creator.id}", json={"role": low}, headers=cluster.admin_headers
            )
            f.status(demote, 200, "demotion of the key's creator on a")
            narrowed = on_b.get(ME, headers=key)
            f.check(
                narrowed.status_code == 401
                or (
                    narrowed.status_code == 200
                    and narrowed.json()["permissions"] == cluster.permissions[low]
                ),
                f"the key on b after its creator's demotion on a: {narrowed.text}",
            )
    f.done()


def test_disabling_on_one_instance_is_refused_on_the_other_at_once(cluster: Cluster) -> None:
    f = Findings()
    a, b = cluster.instances
    user = cluster.new_user(cluster.roles[-1], "disabled")
    with cluster.direct(a) as on_a, cluster.direct(b) as on_b, cluster.proxy() as via:
        token = bearer_for(on_b, user)
        session = session_for(on_b, user)
        f.status(on_a.get(ME, headers=token), 200, "token on a, before")
        f.status(on_a.get(ME, headers=session.headers), 200, "session on a, before")
        disable = on_b.patch(
            f"{API}/users/{user.id}", json={"disabled": True}, headers=cluster.admin_headers
        )
        f.status(disable, 200, "disabling on b")
        f.status(on_a.get(ME, headers=token), 401, "token on a right after disabling on b")
        f.status(on_a.get(ME, headers=session.headers), 401, "session on a after disabling")
        f.status(via.get(ME, headers=token), 401, "token through nginx after disabling")
        f.status(token_login(on_a, user.username, user.password), 400, "login on a when disabled")
    f.done()


def test_revoking_a_key_on_one_instance_is_refused_on_the_other_at_once(cluster: Cluster) -> None:
    f = Findings()
    a, b = cluster.instances
    with cluster.direct(a) as on_a, cluster.direct(b) as on_b, cluster.proxy() as via:
        key_id, key = _api_key(on_a, cluster, cluster.roles[-1], "revoked")
        headers = {"X-API-Key": key}
        f.status(on_b.get(ME, headers=headers), 200, "key on b, before")
        f.status(via.get(ME, headers=headers), 200, "key through nginx, before")
        revoke = on_b.delete(f"{API}/api-keys/{key_id}", headers=cluster.admin_headers)
        f.status(revoke, 204, "revocation on b")
        f.status(on_a.get(ME, headers=headers), 401, "key on a right after revocation on b")
        f.status(via.get(ME, headers=headers), 401, "key through nginx after the revocation")
    f.done()


def _retry_after(response: httpx.Response) -> bool:
    value = response.headers.get("retry-after", "")
    return value.isdigit() and int(value) > 0


def test_the_lockout_counts_across_instances_and_workers(cluster: Cluster) -> None:
    f = Findings()
    user = cluster.new_user(cluster.roles[-1], "locked")
    wrong = user.password + "-wrong"
    # APP_LOGIN_MAX_FAILURES failures in a row, alternating instances and both login endpoints,
    # each from an address of its own (the lockout is per username, whoever guesses), each on
    # a fresh connection (any worker).
    for attempt in range(LOGIN_MAX_FAILURES):
        instance = cluster.instances[attempt % 2]
        with cluster.direct(instance) as client:
            if attempt % 2 == 0:
                failed = token_login(client, user.username, wrong)
                f.status(failed, 400, f"failed token login {attempt + 1} on {instance.name}")
            else:
                failed = session_login(client, user.username, wrong)
                f.status(failed, 401, f"failed session login {attempt + 1} on {instance.name}")
    for instance in cluster.instances:
        with cluster.direct(instance) as client:
            for label, answer in (
                ("token", token_login(client, user.username, user.password)),
                ("session", session_login(client, user.username, user.password)),
            ):
                f.status(answer, 429, f"{label} login with the right password on {instance.name}")
                f.check(_retry_after(answer), f"{label} 429 on {instance.name}: no Retry-After")
    with cluster.proxy() as via:
        answer = token_login(via, user.username, user.password)
        f.status(answer, 429, "the right password through nginx while locked")
        f.check(_retry_after(answer), "429 through nginx without Retry-After")
    f.done()


def test_the_login_address_throttle_counts_across_instances(cluster: Cluster) -> None:
    f = Findings()
    user = cluster.new_user(cluster.roles[-1], "sprayed")
    address = cluster.client_address()
    # Password spraying: one address, a different (unknown) username each time.
    for attempt in range(LOGIN_IP_MAX_FAILURES):
        instance = cluster.instances[attempt % 2]
        with cluster.direct(instance, address) as client:
            failed = token_login(client, f"nobody-{attempt}-{address}", "Not-The-Password-42")
            f.status(failed, 400, f"failed login {attempt + 1} from {address} on {instance.name}")
    for instance in cluster.instances:
        with cluster.direct(instance, address) as client:
            answer = token_login(client, user.username, user.password)
            f.status(answer, 429, f"a right password from the throttled address on {instance.name}")
            f.check(_retry_after(answer), f"429 on {instance.name} without Retry-After")
    with cluster.direct(cluster.instances[0]) as elsewhere:
        answer = token_login(elsewhere, user.username, user.password)
        f.status(answer, 200, "the same login from another address")
    f.done()


def test_the_api_key_throttle_counts_across_instances(cluster: Cluster) -> None:
    f = Findings()
    address = cluster.client_address()
    with cluster.proxy() as via:
        _, key = _api_key(via, cluster, cluster.roles[-1], "throttled")
    for attempt in range(APIKEY_MAX_FAILURES):
        instance = cluster.instances[attempt % 2]
        # An existing key's id with a wrong secret, and text that is no key at all.
        bogus = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
        presented = bogus if attempt % 2 == 0 else f"not-a-key-{attempt}"
        with cluster.direct(instance, address) as client:
            answer = client.get(ME, headers={"X-API-Key": presented})
            f.status(answer, 401, f"bogus key {attempt + 1} from {address} on {instance.name}")
    for instance in cluster.instances:
        with cluster.direct(instance, address) as client:
            answer = client.get(ME, headers={"X-API-Key": key})
            f.status(answer, 429, f"a valid key from the throttled address on {instance.name}")
            f.check(_retry_after(answer), f"429 on {instance.name} without Retry-After")
    with cluster.direct(cluster.instances[1]) as elsewhere:
        f.status(elsewhere.get(ME, headers={"X-API-Key": key}), 200, "the key from elsewhere")
    f.done()


def test_csrf_and_origin_checks_hold_through_the_proxy(cluster: Cluster) -> None:
    f = Findings()
    admin = cluster.admin
    with cluster.proxy() as via:
        session = session_for(via, admin)
        item = {"name": "csrf"}
        f.status(
            via.post(ITEMS, json=item, headers=session.cookie_only), 403, "POST without CSRF token"
        )
        wrong = {**session.cookie_only, "X-CSRF-Token": "x" * len(session.csrf_token)}
        f.status(via.post(ITEMS, json=item, headers=wrong), 403, "POST with a wrong CSRF token")
        foreign = {**session.headers, "Origin": FOREIGN_ORIGIN}
        f.status(via.post(ITEMS, json=item, headers=foreign), 403, "POST from a foreign Origin")
        allowed = {**session.headers, "Origin": ALLOWED_ORIGIN}
        f.status(via.post(ITEMS, json=item, headers=allowed), 201, "POST from the CORS origin")
        f.status(via.post(ITEMS, json=item, headers=session.headers), 201, "POST with the token")
        login = via.post(
            f"{API}/auth/login",
            json={"username": admin.username, "password": admin.password},
            headers={"Origin": FOREIGN_ORIGIN},
        )
        f.status(login, 403, "session login from a foreign Origin")
    # The session's CSRF token is the session's, whichever instance checks it.
    for instance in cluster.instances:
        with cluster.direct(instance) as client:
            f.status(
                client.post(ITEMS, json=item, headers=session.cookie_only),
                403,
                f"POST without CSRF token on {instance.name}",
            )
            f.status(
                client.post(ITEMS, json=item, headers=session.headers),
                201,
                f"POST with the token on {instance.name}",
            )
    f.done()


def test_every_proxied_request_has_one_http_request_record_and_every_log_verifies(
    cluster: Cluster,
) -> None:
    f = Findings()
    # Some traffic of its own, so the test means something when run alone.
    with cluster.proxy() as via:
        for _ in range(10):
            f.status(via.get(ME, headers=cluster.admin_headers), 200, "GET /me through nginx")
    sent = cluster.ledger.entries()
    for entry in sent:
        f.check(entry.status is not None, f"{entry.request_id} ({entry.path}) got no answer")
        f.check(
            entry.echoed_id == entry.request_id,
            f"{entry.path}: sent X-Request-ID {entry.request_id}, got back {entry.echoed_id}",
        )
    found = _wait_for_records(cluster, [entry.request_id for entry in sent])
    served: dict[str, int] = {}
    for entry in sent:
        records = found[entry.request_id]
        f.check(
            len(records) == 1,
            f"{entry.method} {entry.path} ({entry.request_id}): {len(records)} http_request "
            f"records: {[(name, r.get('status')) for name, r in records]}",
        )
        for name, record in records:
            served[name] = served.get(name, 0) + 1
            f.check(
                record.get("ip") == CLIENT_ADDRESS,
                f"{entry.request_id} on {name}: audit ip {record.get('ip')!r}, the client is "
                f"{CLIENT_ADDRESS}",
            )
            f.check(
                record.get("status") == entry.status,
                f"{entry.request_id} on {name}: audit status {record.get('status')}, the client "
                f"saw {entry.status}",
            )
    # Round-robin: both instances served proxied requests.
    f.check(
        all(served.get(instance.name, 0) > 0 for instance in cluster.instances),
        f"proxied requests per instance: {served}",
    )
    logs = [*(instance.audit_log for instance in cluster.instances), cluster.cli_audit_log]
    for log in logs:
        verified = cluster.audit_verify(log)
        f.check(
            verified.returncode == 0,
            f"audit verify {log}: exit {verified.returncode}\n{verified.stdout}{verified.stderr}",
        )
    print(f"{len(sent)} proxied requests checked; served per instance: {served}")
    f.done()


def _quiet(cluster: Cluster, seconds: float) -> None:
    """Wait until no audit log of any instance has grown for `seconds`."""
    last: list[tuple[int, ...]] = []
    since = [time.monotonic()]

    def still() -> bool | None:
        sizes = tuple(
            instance.audit_log.stat().st_size if instance.audit_log.exists() else 0
            for instance in cluster.instances
        )
        if not last or sizes != last[0]:
            last[:] = [sizes]
            since[0] = time.monotonic()
            return None
        return True if time.monotonic() - since[0] >= seconds else None

    wait_until("the audit logs to stop growing", still, 30)


def _ts(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(record["ts"]).replace("Z", "+00:00"))


def test_audit_events_answer_the_same_on_both_instances(cluster: Cluster) -> None:
    """With APP_REDIS_URL every instance also publishes its records to a shared feed, which
    `/audit/events` reads: the records of all instances, newest first, the same everywhere."""
    _quiet(cluster, 1.0)
    cutoff = datetime.now(UTC)
    origin = {
        str(record["hash"]): instance.name
        for instance in cluster.instances
        for record in read_audit(instance.audit_log)
    }
    deadline = time.monotonic() + 10
    while True:
        answers: list[list[dict[str, Any]]] = []
        for instance in cluster.instances:
            with cluster.direct(instance) as client:
                response = client.get(
                    f"{API}/audit/events", params={"limit": 300}, headers=cluster.admin_headers
                )
            assert response.status_code == 200, f"{instance.name}: {response.text}"
            # Only what was written before the reading began: the reads are records too.
            answers.append([record for record in response.json() if _ts(record) < cutoff])
        common = min(len(answer) for answer in answers)
        same = common > 0 and answers[0][:common] == answers[1][:common]
        if same or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    f = Findings()
    f.check(common >= 100, f"only {common} records older than the reads in the answers")
    for instance, answer in zip(cluster.instances, answers, strict=True):
        sources: dict[str, int] = {}
        for record in answer:
            source = origin.get(str(record["hash"]), "in no instance's log")
            sources[source] = sources.get(source, 0) + 1
        f.check(
            all(sources.get(other.name, 0) > 0 for other in cluster.instances),
            f"/audit/events on {instance.name} holds records of {sources}, not of every instance",
        )
    if not same:
        first = next((i for i in range(common) if answers[0][i] != answers[1][i]), common)
        f.check(
            False,
            f"/audit/events differs between the instances from record {first} on: a gives "
            f"{[(r['seq'], r['event']) for r in answers[0][first : first + 3]]}, b gives "
            f"{[(r['seq'], r['event']) for r in answers[1][first : first + 3]]}",
        )
    f.done()


@dataclass
class Outcome:
    label: str
    status: int | None
    retry_after: str | None
    error: str | None = None

    def __str__(self) -> str:
        if self.status is None:
            return f"{self.label}: no answer ({self.error})"
        retry = f", Retry-After {self.retry_after}" if self.retry_after else ""
        return f"{self.label}: {self.status}{retry}"


def _attempt(
    label: str, send: Callable[[httpx.Client], httpx.Response], client: httpx.Client
) -> Outcome:
    try:
        response = send(client)
    except httpx.TransportError as exc:
        return Outcome(label, None, None, repr(exc))
    return Outcome(label, response.status_code, response.headers.get("retry-after"))


Probe = tuple[str, Callable[[httpx.Client], httpx.Response]]


def _during_outage(
    cluster: Cluster, probes: list[Probe], f: Findings, store: str, nginx_log: int
) -> list[Outcome]:
    """Every probe on each instance and through nginx, OUTAGE_ROUNDS times; each must fail
    closed: 503 with Retry-After, never a success, never a 500."""
    outcomes: list[Outcome] = []
    for _ in range(OUTAGE_ROUNDS):
        for instance in cluster.instances:
            with cluster.direct(instance) as client:
                outcomes += [
                    _attempt(f"{label} on {instance.name}", send, client) for label, send in probes
                ]
        with cluster.proxy(ledger=False) as via:
            outcomes += [_attempt(f"{label} through nginx", send, via) for label, send in probes]
    for outcome in outcomes:
        if outcome.status is not None and outcome.status < 400:
            f.check(False, f"{store} down, yet SUCCEEDED (a check was skipped): {outcome}")
        elif outcome.status != 503 or not outcome.retry_after:
            f.check(False, f"{store} down: {outcome} (expected 503 with Retry-After)")
    if any(o.status == 502 and "nginx" in o.label for o in outcomes):
        f.check(False, f"{store} down: nginx's error log: {_nginx_errors(cluster, nginx_log)}")
    return outcomes


def _proxy_serves(cluster: Cluster) -> list[int | None]:
    """Poll GET /me through nginx until it answers 200 PROXY_HEALTHY times in a row, each on a
    new connection (so every nginx worker, each with its own view of the upstreams, answers);
    the statuses seen on the way."""
    seen: list[int | None] = []

    def served() -> bool | None:
        with cluster.proxy(ledger=False) as via:
            outcome = _attempt("GET /me", lambda c: c.get(ME, headers=cluster.admin_headers), via)
        seen.append(outcome.status)
        healthy = len(seen) >= PROXY_HEALTHY and set(seen[-PROXY_HEALTHY:]) == {200}
        return True if healthy else None

    wait_until("nginx to serve GET /me again", served, RECOVERY_SECONDS)
    return seen


def _recover(cluster: Cluster, probe: Probe, f: Findings, store: str) -> None:
    """Poll `probe` on every instance, then through nginx, until it succeeds; the service
    recovers by itself, and on the way answers 503 at worst, never 500 (or 502 from nginx)."""
    label, send = probe
    for instance in cluster.instances:
        seen: list[int | None] = []

        def back(instance: Instance = instance, seen: list[int | None] = seen) -> bool | None:
            with cluster.direct(instance) as client:
                outcome = _attempt(label, send, client)
            seen.append(outcome.status)
            return True if outcome.status is not None and outcome.status < 300 else None

        started = time.monotonic()
        wait_until(
            f"{label} to succeed on {instance.name} after {store} is back", back, RECOVERY_SECONDS
        )
        took = time.monotonic() - started
        print(f"{store} back: {label} on {instance.name} after {took:.1f} s: {seen}")
        f.check(500 not in seen, f"{store} back: {label} on {instance.name} answered {seen}")
    started = time.monotonic()
    nginx_log = cluster.nginx.error_log_size()
    seen = _proxy_serves(cluster)
    took = time.monotonic() - started
    print(f"{store} back: GET /me through nginx after {took:.1f} s: {seen}")
    f.check(
        not {500, 502} & set(seen),
        f"{store} back, both instances answer, yet nginx answered {seen} for {took:.1f} s "
        f"(its error log meanwhile: {_nginx_errors(cluster, nginx_log)})",
    )


def _nginx_errors(cluster: Cluster, offset: int) -> str:
    """What nginx's error log says from `offset` on, condensed: each message and how often."""
    kinds: dict[str, int] = {}
    for line in cluster.nginx.error_log(offset).splitlines():
        # 2026/12/03 13:15:05 [error] 30516#30516: *39 no live upstreams while ..., client: ...
        message = line.split("] ", 1)[-1].split(", client:", 1)[0]
        message = re.sub(r"^\d+#\d+: (\*\d+ )?", "", message)
        kinds[message] = kinds.get(message, 0) + 1
    return "; ".join(f"{count}x {message}" for message, count in kinds.items()) or "empty"


def _logged_once(cluster: Cluster, offsets: dict[str, int], f: Findings, store: str) -> None:
    """Each instance logged the outage, and at most once per worker (not once per request).

    Only the lines naming this dependency count: a worker that served nothing during the
    test before may report that outage's end during this one, which is right, and once.
    """
    dependency = {"Redis": "redis", "PostgreSQL": "database"}[store]
    for instance in cluster.instances:
        text = instance.service.stderr_since(offsets[instance.name])
        lines = [line for line in text.splitlines() if f"{dependency} unavailable" in line]
        excerpt = "\n    ".join(text.splitlines()[:12])
        f.check(
            1 <= len(lines) <= WORKERS,
            f"{instance.name} logged {len(lines)} line(s) with 'unavailable' during the {store} "
            f"outage (expected 1 to {WORKERS}: once per worker); its stderr then "
            f"({len(text.splitlines())} lines) began:\n    {excerpt}",
        )
        again = [line for line in text.splitlines() if f"{dependency} available again" in line]
        f.check(len(again) <= WORKERS, f"{instance.name}: {len(again)} recovery lines: {again}")


def _stderr_offsets(cluster: Cluster) -> dict[str, int]:
    return {instance.name: instance.service.stderr_size() for instance in cluster.instances}


def test_kill_9_of_one_instance_under_load_fails_over(cluster: Cluster) -> None:
    """Before the outages, from a cluster that serves; the instance is started again after."""
    _proxy_serves(cluster)
    victim = cluster.instances[0]
    try:
        _kill_under_load(cluster)
    finally:
        # As an operator would: the tests after this one run on two instances again.
        if victim.service.exited():
            victim.start()
            wait_healthy(victim)


def _kill_under_load(cluster: Cluster) -> None:
    f = Findings()
    victim, survivor = cluster.instances
    token = cluster.admin_headers
    results: list[int | None] = []
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[str] = []

    def hammer() -> None:
        with cluster.proxy(ledger=False) as via:
            while not stop.is_set():
                try:
                    status: int | None = via.get(ME, headers=token).status_code
                except httpx.TransportError as exc:
                    status = None
                    with lock:
                        errors.append(repr(exc))
                with lock:
                    results.append(status)

    def done_at_least(count: int) -> Callable[[], bool | None]:
        def check() -> bool | None:
            with lock:
                return True if len(results) >= count else None

        return check

    survivor_before = len(read_audit(survivor.audit_log))
    threads = [threading.Thread(target=hammer, daemon=True) for _ in range(LOAD_CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        wait_until("load before the kill", done_at_least(60), 60)
        with lock:
            at_kill = len(results)
        nginx_log = cluster.nginx.error_log_size()
        victim.service.kill()
        wait_until("load after the kill", done_at_least(at_kill + 150), 60)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    failed = [status for status in results if status is None or status >= 500]
    summary = {str(s): results.count(s) for s in sorted(set(results), key=str)}
    print(f"kill -9 under load: {len(results)} requests, {at_kill} before the kill: {summary}")
    f.check(
        len(failed) <= LOAD_CLIENTS,
        f"{len(failed)} requests failed around the kill (at most {LOAD_CLIENTS}, the requests in "
        f"flight, may): {summary}; errors: {errors[:5]}; nginx's error log since the kill: "
        f"{_nginx_errors(cluster, nginx_log)}",
    )
    with cluster.proxy() as via:
        for n in range(20):
            f.status(via.get(ME, headers=token), 200, f"GET /me {n} after the kill")
        for n in range(3):
            created = via.post(ITEMS, json={"name": f"after kill {n}"}, headers=token)
            f.status(created, 201, f"POST /items {n} after the kill")
    f.check(not survivor.service.exited(), "the survivor exited")
    _quiet(cluster, 0.5)
    f.check(
        len(read_audit(survivor.audit_log)) > survivor_before + 20,
        "the survivor's audit log did not record the traffic after the kill",
    )
    verified = cluster.audit_verify(survivor.audit_log)
    f.check(
        verified.returncode == 0,
        f"audit verify of the survivor: exit {verified.returncode}\n{verified.stdout}"
        f"{verified.stderr}",
    )
    f.done()


def test_a_redis_restart_fails_closed_and_the_service_recovers(cluster: Cluster) -> None:
    f = Findings()
    _proxy_serves(cluster)
    user = cluster.new_user(cluster.roles[-1], "redis")
    with cluster.proxy() as via:
        _, key = _api_key(via, cluster, cluster.roles[-1], "redis outage")
        session = session_for(via, user)
    token = cluster.admin_headers
    probes: list[Probe] = [
        ("GET /me with a bearer token", lambda c: c.get(ME, headers=token)),
        ("GET /me with an API key", lambda c: c.get(ME, headers={"X-API-Key": key})),
        ("GET /me with a session", lambda c: c.get(ME, headers=session.headers)),
        ("token login", lambda c: token_login(c, user.username, user.password)),
        ("session login", lambda c: session_login(c, user.username, user.password)),
    ]
    offsets = _stderr_offsets(cluster)
    nginx_log = cluster.nginx.error_log_size()
    cluster.redis.stop()
    try:
        outcomes = _during_outage(cluster, probes, f, "Redis", nginx_log)
    finally:
        cluster.redis.start()
    print("during the Redis outage:\n  " + "\n  ".join(str(o) for o in outcomes))
    _recover(cluster, probes[0], f, "Redis")
    # Redis lost everything (no persistence): sessions are gone, the rest is read again from
    # the database; new logins work everywhere.
    for instance in cluster.instances:
        with cluster.direct(instance) as client:
            f.status(client.get(ME, headers=token), 200, f"bearer token on {instance.name}")
            key_answer = client.get(ME, headers={"X-API-Key": key})
            f.status(key_answer, 200, f"API key on {instance.name} after Redis is back")
            login = token_login(client, user.username, user.password)
            f.status(login, 200, f"token login on {instance.name} after Redis is back")
    with cluster.proxy() as via:
        fresh: Session | None = None
        login = session_login(via, user.username, user.password)
        f.status(login, 200, "session login through nginx after Redis is back")
        if login.status_code == 200:
            fresh = session_of(login)
            for instance in cluster.instances:
                with cluster.direct(instance) as client:
                    answer = client.get(ME, headers=fresh.headers)
                    f.status(answer, 200, f"the new session on {instance.name}")
    _logged_once(cluster, offsets, f, "Redis")
    f.done()


def test_a_postgres_restart_fails_closed_and_the_service_recovers(cluster: Cluster) -> None:
    f = Findings()
    # From a cluster that serves (the test before may have left nginx with both instances
    # marked down for a while).
    _proxy_serves(cluster)
    user = cluster.new_user(cluster.roles[-1], "postgres")
    admin = cluster.admin_headers
    probes: list[Probe] = [
        ("GET /items", lambda c: c.get(ITEMS, headers=admin)),
        ("POST /items", lambda c: c.post(ITEMS, json={"name": "outage"}, headers=admin)),
        ("GET /users", lambda c: c.get(f"{API}/users", headers=admin)),
        ("token login", lambda c: token_login(c, user.username, user.password)),
        ("session login", lambda c: session_login(c, user.username, user.password)),
    ]
    offsets = _stderr_offsets(cluster)
    nginx_log = cluster.nginx.error_log_size()
    cluster.postgres.stop()
    try:
        outcomes = _during_outage(cluster, probes, f, "PostgreSQL", nginx_log)
    finally:
        cluster.postgres.start()
    print("during the PostgreSQL outage:\n  " + "\n  ".join(str(o) for o in outcomes))
    _recover(cluster, probes[0], f, "PostgreSQL")
    for instance in cluster.instances:
        with cluster.direct(instance) as client:
            # Fresh connections: every worker, each with its pool of pre-outage connections.
            for round_ in range(2 * WORKERS):
                f.status(
                    client.get(ITEMS, headers=admin), 200, f"GET /items {round_} on {instance.name}"
                )
                created = client.post(ITEMS, json={"name": "after"}, headers=admin)
                f.status(created, 201, f"POST /items {round_} on {instance.name}")
            login = token_login(client, user.username, user.password)
            f.status(login, 200, f"token login on {instance.name} after PostgreSQL is back")
    _logged_once(cluster, offsets, f, "PostgreSQL")
    f.done()
