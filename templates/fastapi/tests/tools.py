"""External checkers some tests run (promtool, hadolint, zizmor, check-jsonschema).

A checker that is not installed skips its test with the reason, so `pytest` works on a laptop
with only the dev extras; CI sets `TEST_REQUIRE_TOOLS=1`, which turns every such skip into a
failure, so a missing tool can never make a green run.
"""

import os
import shutil
import sys
from pathlib import Path

import pytest


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
