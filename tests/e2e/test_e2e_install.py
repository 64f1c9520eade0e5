"""The install of docs/guides/getting_started.md, run as written: the sh block(s) its marker points at, in a copy of
the checkout's tracked files, with a fresh virtual environment activated, a HOME of its own and Galaxy unreachable.
Afterwards ansible-doc and ansible-galaxy must see certops.aws and community.crypto where the guide says.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tools import pythons
from tools.dependencies import BUNDLED
from tools.harness import REPO, copy_of_checkout

pytestmark = pytest.mark.e2e

GUIDE = REPO / "docs" / "guides" / "getting_started.md"
# The line before each sh block of the guide that this test runs.
MARKER = "<!-- install: tests/e2e/test_e2e_install.py runs the sh block below as written -->"
# Nothing listens on the discard port: an ansible-galaxy that calls Galaxy fails at once, loudly.
NO_GALAXY = "http://127.0.0.1:9/"
# pip, ansible-core, boto3 and the wheel holding community.crypto, all from the local package index.
TIMEOUT = 600


@pytest.fixture(autouse=True)
def reset_server() -> None:
    """Overrides the end-to-end tests' reset of the IAM emulator: installing needs none, so none is started."""


def install_blocks(guide: Path) -> list[str]:
    """The text of each fenced sh block right after a MARKER line."""
    lines = guide.read_text().splitlines()
    blocks = []
    for index, line in enumerate(lines):
        if line.strip() != MARKER:
            continue
        assert lines[index + 1] == "```sh", f"{guide.name}:{index + 2}: the marker is not followed by a sh block"
        end = lines.index("```", index + 2)
        blocks.append("\n".join(lines[index + 2 : end]) + "\n")
    return blocks


def guide_python() -> str:
    """A Python the guide's block runs with as written (ansible-core 2.21 needs 3.12 or later)."""
    if sys.version_info >= (3, 12):
        return sys.executable
    found = pythons.find_python("3.13") or pythons.find_python("3.12")
    if found is None:
        pytest.skip("the guide installs ansible-core 2.21, which needs Python 3.12 or later; none found")
    return found


def user_environment(home: Path, venv: Path) -> dict[str, str]:
    """A user's shell with the fresh venv activated: their own HOME (with this machine's pip configuration, so pip
    finds the package index), no Ansible settings, nothing on PATH that already runs Ansible, Galaxy unreachable."""
    real_pip_config = Path.home() / ".config" / "pip" / "pip.conf"
    if real_pip_config.is_file():
        (home / ".config" / "pip").mkdir(parents=True)
        shutil.copy2(real_pip_config, home / ".config" / "pip" / "pip.conf")
    path = [str(venv / "bin")]
    path += [
        entry
        for entry in os.environ.get("PATH", "").split(os.pathsep)
        if entry and not (Path(entry) / "ansible-galaxy").exists() and not (Path(entry) / "ansible").exists()
    ]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANSIBLE_", "PYTHON", "VIRTUAL_ENV", "XDG_", "AWS_"))
    }
    env.update(
        {"HOME": str(home), "PATH": os.pathsep.join(path), "VIRTUAL_ENV": str(venv), "ANSIBLE_GALAXY_SERVER": NO_GALAXY}
    )
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path]]:
    """The guide's install block run as written; yields the user's environment and their checkout."""
    blocks = install_blocks(GUIDE)
    assert blocks, f"{GUIDE.name} has no sh block marked with {MARKER!r}"
    work = tmp_path_factory.mktemp("install")
    checkout, home, venv = work / "checkout", work / "home", work / "venv"
    copy_of_checkout(checkout, untracked=False)  # as a clone has it: no .venv, no build output
    home.mkdir()
    subprocess.run([guide_python(), "-m", "venv", str(venv)], check=True, capture_output=True)
    env = user_environment(home, venv)
    for block in blocks:
        done = subprocess.run(
            ["sh", "-e", "-x", "-c", block],
            cwd=checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, f"the guide's install block failed:\n{done.stdout}{done.stderr}"
    yield env, checkout


def test_the_guides_install_puts_both_collections_in_the_default_path_without_galaxy(installed):
    env, _checkout = installed
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]

    listed = subprocess.run(
        ["ansible-galaxy", "collection", "list", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert listed.returncode == 0, listed.stderr
    default_path = Path(env["HOME"]) / ".ansible" / "collections" / "ansible_collections"
    assert json.loads(listed.stdout) == {
        str(default_path): {
            "certops.aws": {"version": version},
            **{name: {"version": bundled} for name, bundled in BUNDLED.items()},
        }
    }


def test_ansible_doc_shows_the_module_after_the_guides_install(installed):
    env, _checkout = installed

    shown = subprocess.run(
        ["ansible-doc", "certops.aws.iam_signing_certificate"],
        env={**env, "ANSIBLE_NOCOLOR": "1"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert shown.returncode == 0, shown.stderr
    module = Path(env["HOME"], ".ansible/collections/ansible_collections/certops/aws/plugins/modules")
    heading = f"> MODULE certops.aws.iam_signing_certificate ({module / 'iam_signing_certificate.py'})"
    assert shown.stdout.startswith(heading), shown.stdout[:300]
    assert "[WARNING]" not in shown.stderr, shown.stderr


def test_the_install_environment_would_fail_any_call_to_galaxy(installed, tmp_path):
    """The guard the install ran under works: a collection that only Galaxy has cannot be installed."""
    env, _checkout = installed

    done = subprocess.run(
        ["ansible-galaxy", "collection", "install", "community.general", "-p", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode != 0
    assert f"Unknown error when attempting to call Galaxy at '{NO_GALAXY}api'" in done.stderr, done.stderr
