"""The deployment files, each checked by its own validator.

uv checks that uv.lock still matches pyproject.toml (what CI's `uv sync --locked` and the image's
`uv export --frozen` rely on); check-jsonschema checks .github/dependabot.yml and the workflow
against their published schemas; zizmor audits .github for insecure workflow patterns; hadolint
lints the Dockerfile. Each validator is also handed a broken copy, which it must reject: a tool
that accepted everything would pass the first kind of test just as well.
"""

import os
import re
import sys
from pathlib import Path

from .support import PROJECT_ROOT
from .tools import replaced, run_tool, write_copy

DOCKERFILE = PROJECT_ROOT / "Dockerfile"
DEPENDABOT = PROJECT_ROOT / ".github" / "dependabot.yml"
WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "ci.yml"


# --- uv.lock ---------------------------------------------------------------------------------


def _uv_lock_check(project: Path, tmp_path: Path) -> tuple[int, str]:
    # Offline, with an empty cache of its own (the user's is neither read nor touched), without
    # the caller's UV_* settings, and with this interpreter: the verdict is about the two files
    # alone. `uv lock --check` writes nothing, and creates no virtualenv.
    env = {name: value for name, value in os.environ.items() if not name.startswith("UV_")}
    env["UV_CACHE_DIR"] = str(tmp_path / "uv-cache")
    return run_tool(
        "uv",
        "lock",
        "--check",
        "--offline",
        "--no-python-downloads",
        "--python",
        sys.executable,
        "--color",
        "never",
        cwd=project,
        env=env,
    )


def test_uv_lock_matches_pyproject(tmp_path: Path) -> None:
    returncode, report = _uv_lock_check(PROJECT_ROOT, tmp_path)
    # Offline and with an empty cache, uv reports a stale lock as packages "not found in the cache".
    hint = "uv.lock does not match pyproject.toml: run `uv lock` (or `make lock`) and commit it"
    assert returncode == 0, f"{hint}\n{report}"


def test_uv_rejects_a_lock_that_no_longer_matches(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write_copy(PROJECT_ROOT / "pyproject.toml", project / "pyproject.toml")
    lock = write_copy(PROJECT_ROOT / "uv.lock", project / "uv.lock")
    returncode, report = _uv_lock_check(project, tmp_path)
    assert returncode == 0, report
    assert sorted(path.name for path in project.iterdir()) == ["pyproject.toml", "uv.lock"]
    assert lock.read_text(encoding="utf-8") == (PROJECT_ROOT / "uv.lock").read_text(
        encoding="utf-8"
    )

    pyproject = replaced(
        project / "pyproject.toml", r"^dependencies = \[$", '\\g<0>\n    "idna>=3",'
    )
    write_copy(project / "pyproject.toml", project / "pyproject.toml", pyproject)
    returncode, report = _uv_lock_check(project, tmp_path)
    assert returncode != 0, report
    assert "needs to be updated" in report or "not found in the cache" in report, report


# --- .github -----------------------------------------------------------------------------------


def _schema_check(schema: str, path: Path) -> tuple[int, str]:
    return run_tool("check-jsonschema", "--color", "never", "--builtin-schema", schema, str(path))


def test_dependabot_config_matches_its_schema() -> None:
    returncode, report = _schema_check("vendor.dependabot", DEPENDABOT)
    assert returncode == 0, report


def test_the_dependabot_schema_rejects_a_misspelt_key(tmp_path: Path) -> None:
    text = replaced(DEPENDABOT, r"^(\s+)interval:", r"\1intervall:")
    returncode, report = _schema_check(
        "vendor.dependabot", write_copy(DEPENDABOT, tmp_path / "d.yml", text)
    )
    assert returncode == 1, report
    assert "'interval' is a required property" in report, report


def test_workflow_matches_its_schema() -> None:
    returncode, report = _schema_check("vendor.github-workflows", WORKFLOW)
    assert returncode == 0, report


def test_the_workflow_schema_rejects_a_misspelt_key(tmp_path: Path) -> None:
    text = replaced(WORKFLOW, r"^(\s+)runs-on:", r"\1runs_on:")
    returncode, report = _schema_check(
        "vendor.github-workflows", write_copy(WORKFLOW, tmp_path / "ci.yml", text)
    )
    assert returncode == 1, report
    assert "'runs-on' is a required property" in report, report


def _zizmor(folder: Path) -> tuple[int, str]:
    return run_tool(
        "zizmor", "--offline", "--no-progress", "--color", "never", "--format", "plain", str(folder)
    )


def test_zizmor_finds_nothing_in_github_folder() -> None:
    returncode, report = _zizmor(PROJECT_ROOT / ".github")
    assert returncode == 0, report
    assert "No findings" in report, report


def test_zizmor_rejects_an_action_pinned_to_a_tag(tmp_path: Path) -> None:
    text = replaced(WORKFLOW, r"actions/checkout@[0-9a-f]{40}.*$", "actions/checkout@v7")
    write_copy(WORKFLOW, tmp_path / ".github" / "workflows" / "ci.yml", text)
    returncode, report = _zizmor(tmp_path / ".github")
    assert returncode != 0, report
    assert "unpinned-uses" in report, report


# --- Dockerfile --------------------------------------------------------------------------------


def _hadolint(path: Path) -> tuple[int, str]:
    # Any finding fails, down to style (hadolint's own default threshold stops at info).
    return run_tool("hadolint", "--no-color", "--failure-threshold", "style", str(path))


def test_hadolint_finds_nothing_in_dockerfile() -> None:
    returncode, report = _hadolint(DOCKERFILE)
    assert returncode == 0, report


def test_hadolint_rejects_an_unpinned_tool_and_a_root_user(tmp_path: Path) -> None:
    text = replaced(DOCKERFILE, r"\buv==[0-9.]+", "uv")
    broken = write_copy(DOCKERFILE, tmp_path / "Dockerfile", text)
    text = replaced(broken, r"^USER .*$", "USER root")
    returncode, report = _hadolint(write_copy(broken, broken, text))
    assert returncode != 0, report
    assert "DL3013" in report, report  # pin versions in pip
    assert "DL3002" in report, report  # last USER should not be root


def test_the_image_and_ci_pin_the_same_uv() -> None:
    """The image's uv and CI's check the same lock; neither pin is Dependabot's to update."""
    image = re.findall(r"\buv==([0-9.]+)", DOCKERFILE.read_text(encoding="utf-8"))
    ci = re.findall(
        r"setup-uv@.*\n\s+with:\n\s+version: \"([0-9.]+)\"", WORKFLOW.read_text(encoding="utf-8")
    )
    assert len(image) == 1, image
    assert ci, "no `version:` for setup-uv in ci.yml"
    assert set(ci) == set(image), f"Dockerfile pins uv {image[0]}, ci.yml {sorted(set(ci))}"
