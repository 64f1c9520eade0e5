"""make lint's antsibull-nox extra checks (antsibull-nox.toml): they pass on this checkout and fail, naming the
problem, on a copy broken on purpose."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tools.harness import REPO, copy_of_checkout

pytestmark = pytest.mark.skipif(
    not all(importlib.util.find_spec(name) for name in ("nox", "antsibull_nox")),
    reason="nox and antsibull-nox are not installed in .venv: `make lint` installs them (requirements-lint.txt)",
)


def extra_checks(collection: Path, scratch: Path) -> subprocess.CompletedProcess[str]:
    """The session as `make lint` runs it, on this Python; its scratch files go outside the checked tree."""
    # Plain output (no colours or Unicode frames) whether or not a CI is detected.
    env = {**os.environ, "ANTSIBULL_OUTPUT_FORMAT": "plain"}
    return subprocess.run(
        [sys.executable, "-m", "nox", "--no-venv", "--envdir", str(scratch), "-s", "extra-checks"],
        cwd=collection,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_untouched_checkout_passes(tmp_path: Path):
    done = extra_checks(REPO, tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Session extra-checks was successful" in done.stderr


def drop_info_module_from_action_group(collection: Path) -> None:
    runtime = collection / "meta" / "runtime.yml"
    text = runtime.read_text()
    runtime.write_text(text.replace("    - iam_signing_certificate_info\n", "", 1))
    assert runtime.read_text() != text


def add_trailing_space_to_role_tasks(collection: Path) -> None:
    tasks = collection / "roles" / "signing_certificate_rotation" / "tasks" / "main.yml"
    lines = tasks.read_text().splitlines(keepends=True)
    lines[0] = lines[0].rstrip("\n") + " \n"
    tasks.write_text("".join(lines))


@pytest.mark.parametrize(
    ("break_copy", "failed_check", "finding"),
    [
        (
            drop_info_module_from_action_group,
            "action-groups",
            "meta/runtime.yml:0:0: module 'iam_signing_certificate_info' is not part of 'aws' action group",
        ),
        (
            add_trailing_space_to_role_tasks,
            "no-trailing-whitespace",
            "roles/signing_certificate_rotation/tasks/main.yml:1:0: found trailing whitespace",
        ),
    ],
    ids=["module-left-out-of-action-group", "trailing-space-in-yaml"],
)
def test_a_broken_copy_fails_naming_the_problem(
    tmp_path: Path, break_copy: Callable[[Path], None], failed_check: str, finding: str
):
    collection = copy_of_checkout(tmp_path / "aws")
    break_copy(collection)

    done = extra_checks(collection, tmp_path / "nox")

    assert done.returncode == 1, done.stdout + done.stderr
    assert finding in done.stdout, done.stdout
    assert f"Session extra-checks aborted: {failed_check} failed" in done.stderr, done.stderr
