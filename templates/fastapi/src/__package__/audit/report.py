"""`audit report`: what the audit log says happened lately, and whether any of it crossed a
threshold that needs a person (SECURITY.md, "Reading the audit log").

The log is streamed line by line, its rotated archives oldest first and then the live file, so
memory does not grow with the log: each table keeps at most `MAX_KEYS` distinct keys, and when
one fills up, the half with the lowest counts is folded into its `untracked` count (a key that
keeps failing survives any flood of one-off keys). Files last written before the window are not
read at all. A line that is not a readable record is counted as malformed and skipped: whether
the log was tampered with is `audit verify`'s question. Records never hold a secret, so neither
does the report; a failed login for a username that matches no account is logged (and counted)
as `anonymous`, since such a "username" may be a mistyped password.

`audit report --json` prints one object, stable for automation (README.md, "Command line"):
a table is `{"top": [{"key", "count"}], "untracked"}`, a listed record is
`{"ts", "event", "actor", "ip", "detail"}`, and `alerts` is empty unless a threshold was crossed.
"""

import heapq
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Final

from ..core.config import Settings
from .chain import clean_text, log_files, parse_record, utc_timestamp

# Distinct keys one table tracks.
MAX_KEYS: Final = 10_000
# Longer lines are skipped as malformed without ever being held whole.
MAX_LINE: Final = 64 * 1024
UNKNOWN: Final = "unknown"

_DURATION: Final = re.compile(r"^([1-9][0-9]{0,4})([mhd])$")
_UNITS: Final = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}

# Each counted section: the event it counts and its tables (table name -> record field).
COUNTED: Final[dict[str, tuple[str, dict[str, str]]]] = {
    "failed_logins": ("authn_login_fail", {"by_username": "actor", "by_address": "ip"}),
    "lockouts": ("authn_login_lock", {"by_username": "actor"}),
    "authz_failures": ("authz_fail", {"by_principal": "actor", "by_route": "route"}),
    "apikey_failures": ("authn_apikey_fail", {"by_address": "ip"}),
    "token_reuse": ("authn_token_reuse", {"by_username": "actor"}),
    "csrf_refusals": ("malicious_csrf", {"by_address": "ip"}),
    "rate_limited": ("excess_rate_limit_exceeded", {"by_address": "ip"}),
}
# Successful changes listed for review (the latest `report_top` of each section).
LISTED: Final = {
    "authz_change": "privilege_changes",
    "user_updated": "privilege_changes",
    "user_created": "admin_actions",
    "authn_apikey_created": "admin_actions",
    "authn_apikey_revoked": "admin_actions",
    "authn_password_change": "admin_actions",
}
_SECTION_OF: Final = {event: section for section, (event, _) in COUNTED.items()}
# Thresholds on one key of a table, and on a section's total (settings attribute first).
PER_KEY: Final = (
    ("report_max_failed_logins_per_user", "failed_logins", "by_username"),
    ("report_max_failed_logins_per_address", "failed_logins", "by_address"),
    ("report_max_usernames_per_address", "failed_logins", "usernames_by_address"),
    ("report_max_authz_failures_per_principal", "authz_failures", "by_principal"),
    ("report_max_apikey_failures_per_address", "apikey_failures", "by_address"),
)
TOTALS: Final = (
    ("report_max_lockouts", "lockouts"),
    ("report_max_token_reuse", "token_reuse"),
    ("report_max_csrf_refusals", "csrf_refusals"),
    ("report_max_rate_limited", "rate_limited"),
)


class ReportError(Exception):
    """The log cannot be read: reported in one line, exit status 1."""


def parse_duration(text: str) -> timedelta:
    """`30m`, `24h`, `7d` -> a timedelta; ValueError with a message for a person otherwise."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"invalid duration {text!r}: a number and m, h or d, e.g. 30m, 24h, 7d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _ranked(items: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    return sorted(items, key=lambda item: (-item[1], item[0]))


class Counter:
    """Records per key, for at most `limit` keys (see the module docstring)."""

    def __init__(self, limit: int) -> None:
        self.counts: dict[str, int] = {}
        self.untracked = 0
        self._limit = max(2, limit)

    def add(self, key: str) -> None:
        if key in self.counts:
            self.counts[key] += 1
            return
        if len(self.counts) >= self._limit:
            keep = heapq.nlargest(self._limit // 2, self.counts.items(), key=lambda kv: kv[1])
            self.untracked += sum(self.counts.values()) - sum(count for _, count in keep)
            self.counts = dict(keep)
        self.counts[key] = 1

    def items(self) -> Iterable[tuple[str, int]]:
        return self.counts.items()


@dataclass(frozen=True, slots=True)
class Alert:
    """A threshold crossed: by `count` in all, or by each of `keys` (highest first)."""

    setting: str
    limit: int
    count: int  # the total, or the highest count of one key
    keys: tuple[tuple[str, int], ...] = ()  # the first `report_top` keys over the limit
    keys_over: int = 0  # how many keys are over it

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "keys": [{"key": key, "count": n} for key, n in self.keys]}

    def describe(self) -> str:
        found = ", ".join(f"{_shown(key)} ({count})" for key, count in self.keys) or str(self.count)
        more = self.keys_over - len(self.keys)
        extra = f" and {more} more" if more > 0 else ""
        return f"threshold {self.setting}={self.limit} crossed: {found}{extra}"


class Report:
    """The tally of one window of the log."""

    def __init__(
        self, path: Path, since: datetime, until: datetime, *, top: int, max_keys: int
    ) -> None:
        self.path, self.since, self.until, self.top = path, since, until, top
        self.records = self.older = self.malformed = self.files_read = self.files_skipped = 0
        self.first_malformed: str | None = None
        self.totals = dict.fromkeys([*COUNTED, *LISTED.values()], 0)
        self.counters = {
            section: {name: Counter(max_keys) for name in tables}
            for section, (_, tables) in COUNTED.items()
        }
        self.counters["admin_actions"] = {"by_event": Counter(len(LISTED))}
        # (address, existing username) pairs of failed logins, for credential stuffing.
        self.pairs = Counter(max_keys)
        self.refused_while_locked = 0
        self.recent = {
            section: deque[dict[str, Any]](maxlen=top) for section in set(LISTED.values())
        }

    def add(self, record: dict[str, Any]) -> None:
        event = record["event"]
        section = _SECTION_OF.get(event)
        if event == "authn_login_lock" and record.get("status") == 429:
            # A login refused while locked (the lockout itself was counted when it began).
            self.refused_while_locked += 1
        elif section is not None:
            self.totals[section] += 1
            for name, field in COUNTED[section][1].items():
                self.counters[section][name].add(_value(record, field))
            actor = _value(record, "actor")
            if section == "failed_logins" and actor != "anonymous":
                self.pairs.add(f"{_value(record, 'ip')}\0{actor}")
        elif event in LISTED and record.get("outcome") == "success":
            listed = LISTED[event]
            self.totals[listed] += 1
            self.recent[listed].append(
                {field: record.get(field) for field in ("ts", "event", "actor", "ip", "detail")}
            )
            if listed == "admin_actions":
                self.counters[listed]["by_event"].add(event)

    def tables(self, section: str) -> dict[str, Counter]:
        found = dict(self.counters.get(section, {}))
        if section == "failed_logins":
            # Distinct existing usernames per address: one per pair still tracked.
            found["usernames_by_address"] = per_address = Counter(len(self.pairs.counts) + 1)
            per_address.untracked = self.pairs.untracked
            for pair in self.pairs.counts:
                per_address.add(pair.partition("\0")[0])
        return found

    def alerts(self, settings: Settings) -> list[Alert]:
        found = []
        for attribute, section, name in PER_KEY:
            limit: int = getattr(settings, attribute)
            # "anonymous" is not one user: unknown usernames count towards the per-address limits.
            ranked = _ranked(self.tables(section)[name].items())
            over = [(key, count) for key, count in ranked if count > limit and key != "anonymous"]
            if over:
                found.append(
                    Alert(
                        _setting(attribute), limit, over[0][1], tuple(over[: self.top]), len(over)
                    )
                )
        for attribute, section in TOTALS:
            limit = getattr(settings, attribute)
            if self.totals[section] > limit:
                found.append(Alert(_setting(attribute), limit, self.totals[section]))
        return found

    def as_json(self, alerts: list[Alert]) -> dict[str, Any]:
        result: dict[str, Any] = {
            "log": str(self.path),
            "since": utc_timestamp(self.since),
            "until": utc_timestamp(self.until),
            "records": {
                "in_window": self.records,
                "older": self.older,
                "malformed": self.malformed,
                "first_malformed": self.first_malformed,
                "files_read": self.files_read,
                "files_skipped": self.files_skipped,
            },
        }
        for section, total in self.totals.items():
            body: dict[str, Any] = {"total": total}
            for name, table in self.tables(section).items():
                top = _ranked(table.items())[: self.top]
                body[name] = {
                    "top": [{"key": key, "count": count} for key, count in top],
                    "untracked": table.untracked,
                }
            if section in self.recent:
                body["recent"] = list(self.recent[section])
            result[section] = body
        result["lockouts"]["refused_while_locked"] = self.refused_while_locked
        result["alerts"] = [alert.as_json() for alert in alerts]
        return result

    def as_text(self, alerts: list[Alert]) -> str:
        lines = [
            f"audit report of {self.path} from {utc_timestamp(self.since)} to "
            f"{utc_timestamp(self.until)}: {self.records} record(s)"
        ]
        if self.malformed:
            lines.append(
                f"  {self.malformed} malformed line(s) skipped, the first at "
                f"{self.first_malformed} (`audit verify` checks the chain)"
            )
        for section, total in self.totals.items():
            extra = (
                f" (and {self.refused_while_locked} login(s) refused while locked)"
                if section == "lockouts" and self.refused_while_locked
                else ""
            )
            lines.append(f"{section.replace('_', ' ')}: {total}{extra}")
            for name, table in self.tables(section).items() if total else ():
                rows = ", ".join(
                    f"{_shown(key)} {count}" for key, count in _ranked(table.items())[: self.top]
                )
                rest = f" (+{table.untracked} untracked)" if table.untracked else ""
                lines.append(f"  {name.replace('_', ' ')}: {rows or '-'}{rest}")
            for record in self.recent.get(section, ()):
                lines.append(
                    f"  {record['ts']} {record['event']} by {_shown(record['actor'])}: "
                    f"{_shown(record['detail'])}"
                )
        lines.extend(alert.describe() for alert in alerts)
        lines.append(f"{len(alerts)} threshold(s) crossed" if alerts else "no threshold crossed")
        return "\n".join(lines)


def build_report(
    settings: Settings, since: timedelta, *, now: datetime | None = None, max_keys: int = MAX_KEYS
) -> Report:
    """Read the log at `APP_AUDIT_LOG_PATH` (and its archives) for the last `since`."""
    path = settings.audit_log_path
    until = now or datetime.now(UTC)
    report = Report(path, until - since, until, top=settings.report_top, max_keys=max_keys)
    files = log_files(path)
    if not files:
        raise ReportError(f"cannot read the audit log: no file at {path}")
    for file in files:
        try:
            if file.stat().st_mtime < report.since.timestamp():
                report.files_skipped += 1  # last written before the window: every record is older
                continue
            with file.open("rb") as stream:
                _read(report, file, stream, live=file == path)
        except OSError as exc:
            raise ReportError(f"cannot read the audit log {file}: {exc.strerror or exc}") from None
        report.files_read += 1
    return report


def _read(report: Report, file: Path, stream: BinaryIO, *, live: bool) -> None:
    for number, line in enumerate(_lines(stream), start=1):
        if live and line is not None and not line.endswith(b"\n"):
            return  # the live file's last line, still being written: next time
        record = parse_record(line) if line is not None else None
        moment = _moment(record) if record is not None else None
        if record is None or moment is None or not isinstance(record.get("event"), str):
            report.malformed += 1
            report.first_malformed = report.first_malformed or f"{file}:{number}"
        elif moment < report.since:
            report.older += 1
        else:
            report.records += 1
            report.add(record)


def _lines(stream: BinaryIO) -> Iterator[bytes | None]:
    """Each line of `stream`, or None for one longer than MAX_LINE (read past, never held)."""
    while line := stream.readline(MAX_LINE):
        if len(line) < MAX_LINE or line.endswith(b"\n"):
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = stream.readline(MAX_LINE)
        yield None


def _moment(record: dict[str, Any]) -> datetime | None:
    ts = record.get("ts")
    try:
        moment = datetime.fromisoformat(ts) if isinstance(ts, str) else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def _value(record: dict[str, Any], field: str) -> str:
    value = record.get(field)
    return value if isinstance(value, str) and value else UNKNOWN


def _setting(attribute: str) -> str:
    return f"APP_{attribute.upper()}"


def _shown(value: object) -> str:
    # A tampered log could hold terminal escapes: the text report shows them escaped.
    return clean_text(str(value), 80) if value is not None else "-"
