"""make lint's Galaxy import check (tools/check_galaxy_import.py) fails, naming the problem, on a copy broken as
galaxy-importer would refuse or silently mangle it on upload. That it passes on this checkout is make lint's own run
(CI runs it after make test), not repeated here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools import check_galaxy_import
from tools.harness import REPO, copy_of_checkout

needs_importer = pytest.mark.skipif(
    not check_galaxy_import.importer_installed(check_galaxy_import.IMPORTER_VENV),
    reason="galaxy-importer is not installed in .venv/importer: `make lint` or `make test` installs it",
)


def check(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "tools" / "check_galaxy_import.py"), *arguments],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@needs_importer
def test_a_role_without_readme_fails_the_check_naming_the_missing_readme(tmp_path: Path):
    collection = copy_of_checkout(tmp_path / "aws")
    (collection / "roles" / "host_signing_certificate" / "README.md").unlink()

    done = check(str(collection))

    assert done.returncode == 1, done.stdout + done.stderr
    assert "ERROR: The import failed for the following reason: No role readme found." in done.stdout
    assert "the import did not complete" in done.stdout
    assert "Loading role host_signing_certificate" in done.stdout  # the log's tail shows which role


@needs_importer
def test_a_module_whose_documentation_does_not_parse_fails_the_check_naming_the_module(tmp_path: Path):
    # galaxy-importer itself says nothing here: ansible-doc --list leaves the module out, and Galaxy would publish it
    # without documentation.
    collection = copy_of_checkout(tmp_path / "aws")
    module = collection / "plugins" / "modules" / "iam_signing_certificate_info.py"
    text = module.read_text()
    broken = re.sub(r"^short_description: ", "short_description: [", text, count=1, flags=re.MULTILINE)
    assert broken != text
    module.write_text(broken)

    done = check(str(collection))

    assert done.returncode == 1, done.stdout + done.stderr
    assert "module iam_signing_certificate_info: the importer found no documentation" in done.stdout


def test_every_warning_error_or_stderr_line_is_a_problem_and_info_lines_are_not():
    log = "Importing with galaxy-importer 0.4.44\nLoading module x\nWARNING: a\nERROR: b\nCRITICAL: c\n"
    log += check_galaxy_import.COMPLETED + "\n"

    problems = check_galaxy_import.problems_in(log, "a Python warning\n", 0)

    assert problems == ["WARNING: a", "ERROR: b", "CRITICAL: c", "stderr: a Python warning"]


def test_an_import_that_does_not_complete_is_a_problem_even_without_an_error_line():
    problems = check_galaxy_import.problems_in("Importing with galaxy-importer 0.4.44\nLoading role r\n", "", 0)

    assert len(problems) == 1
    assert problems[0].startswith("the import did not complete (exit status 0)")
    assert "Loading role r" in problems[0]


def test_an_allowed_finding_passes_only_as_its_whole_line(monkeypatch: pytest.MonkeyPatch):
    allowed = ("example", re.compile(r"WARNING: known importer mistake"), "why it is the importer being wrong")
    monkeypatch.setattr(check_galaxy_import, "ALLOWED_FINDINGS", (allowed,))
    log = f"WARNING: known importer mistake\nWARNING: known importer mistake, and more\n{check_galaxy_import.COMPLETED}"

    assert check_galaxy_import.problems_in(log, "", 0) == ["WARNING: known importer mistake, and more"]
