"""External checkers some tests run (promtool, hadolint, zizmor, check-jsonschema, checkov, ...).

A checker that is not installed skips its test with the reason, so `pytest` works on a laptop
with only the dev extras; CI sets `TEST_REQUIRE_TOOLS=1`, which turns every such skip into a
failure, so a missing tool can never make a green run. `run_tool` runs one and reports what it
said; `replaced` and `write_copy` make the broken copies each checker must reject, so that a
checker accepting everything cannot pass for one that works.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .support import PROJECT_ROOT

TIMEOUT_SECONDS = 180


def require_tool(name: str) -> str:
    """The path of the executable `name`, from this virtualenv first, then PATH."""
    beside_python = Path(sys.executable).with_name(name)
    found = str(beside_python) if beside_python.is_file() else shutil.which(name)
    if found:
        return found
    reason = f"{name} is not installed"
    if os.environ.get("TEST_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{reason}, and TEST_REQUIRE_TOOLS=1 requires it")
    pytest.skip(reason)


def run_tool(
    tool: str, *args: str, cwd: Path = PROJECT_ROOT, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run a checker: its exit code, and its command line and output for the assertion."""
    command = [require_tool(tool), *args]
    result = subprocess.run(  # noqa: S603 - a checker we located, fixed arguments
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT_SECONDS,
    )
    report = (
        f"$ {shlex.join(command)}  (in {cwd})\nexit code {result.returncode}\n"
        f"--- stdout\n{result.stdout}--- stderr\n{result.stderr}"
    )
    return result.returncode, report


def write_copy(source: Path, destination: Path, text: str | None = None) -> Path:
    """`destination`, holding `text` or else the text of `source`."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text(
        source.read_text(encoding="utf-8") if text is None else text, encoding="utf-8"
    )
    return destination


def replaced(source: Path, pattern: str, replacement: str) -> str:
    """The text of `source` with `pattern` replaced, which must occur in it."""
    text, count = re.subn(pattern, replacement, source.read_text(encoding="utf-8"), flags=re.M)
    assert count, f"{source.name} no longer contains {pattern!r}: update this test"
    return text
