"""`make lint`: Galaxy's own import check, offline. The collection is built as for a release and galaxy-importer (what
Galaxy and Automation Hub run on every upload) imports the tarball; any WARNING or ERROR it logs fails the check.

    python tools/check_galaxy_import.py [COLLECTION_DIR]   # default: this checkout

galaxy-importer runs from .venv/importer (`make lint` installs it from requirements/galaxy-importer.txt under
requirements/lock/galaxy-importer.txt: it wants attrs<24, which the main .venv does not allow). Everything it
writes goes to a temporary directory: its configuration (GALAXY_IMPORTER_CONFIG, never /etc), HOME, Ansible's
home and temp, importer_result.json.

What the importer is told to run, and why:
- ansible-doc on every plugin, the changelog check, ansible-lint (production profile, offline) over the extracted
  tarball, and the Automation Hub certification tags check (CHECK_REQUIRED_TAGS): all work offline.
  ansible-lint sees only this collection, as on Galaxy: community.crypto's modules used by the role
  host_signing_certificate are unresolved there (ansible-lint says so on stderr, which the importer drops); the
  ansible-lint of `make lint` runs with community.crypto installed.
- Not ansible-test (RUN_ANSIBLE_TEST off): the importer runs `ansible-test sanity --docker`, which needs a container
  engine and an image from the internet; `make sanity` runs ansible-test sanity offline instead.
- Not flake8 (RUN_FLAKE8 off, the importer's default): it selects pycodestyle's E203, W503 and E704, which the
  project's formatter (ruff format, black-compatible) writes on purpose, and it lints the filters' YAML
  documentation files (plugins/filter/*.yml) as Python (E999 SyntaxError on each). ruff lints the code instead.

ALLOWED_FINDINGS names the importer lines that are the importer being wrong, each with its reason; with
galaxy-importer 0.4.44 there is none. Any other WARNING, ERROR or CRITICAL line, any output on stderr, or an import
that does not complete fails the check; so does a module (or a filter with its .yml) that the importer's result
holds without documentation, which the importer itself lets pass in silence (see undocumented()).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools.harness import REPO, ansible_environment, build_collection

IMPORTER_VENV = REPO / ".venv" / "importer"
# The importer logs INFO lines bare and every other level as "LEVEL: message" (galaxy_importer.main.CustomFormatter).
FINDING = re.compile(r"^(WARNING|ERROR|CRITICAL): ")
COMPLETED = "Importer processing completed successfully"
IMPORTER_NAME = re.compile(r"^Importing with (galaxy-importer \S+)$", re.MULTILINE)
LOG_TAIL = 5  # lines of the log shown when the import stops: the last says why, those before it where
# (name, pattern of a whole importer line, why it is the importer being wrong).
ALLOWED_FINDINGS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "collection playbooks imported by the AWX wrappers",
        re.compile(
            r"WARNING: ERROR +Failed to find certops\.aws\.(rotate_signing_certificates|audit_expiring_certificates) "
            r"playbook\."
        ),
        "docs/examples/awx/ holds the small wrappers a job template needs (import_playbook of this collection's "
        "own playbooks); the importer's ansible-lint lints the collection without installing it, so it cannot "
        "find them. make lint's ansible-lint, with the collection installed, checks those wrappers for real",
    ),
)

IMPORTER_CONFIG = """\
[galaxy-importer]
LOG_LEVEL_MAIN = INFO
RUN_ANSIBLE_DOC = True
RUN_ANSIBLE_LINT = True
OFFLINE_ANSIBLE_LINT = True
CHECK_CHANGELOG = True
CHECK_REQUIRED_TAGS = True
RUN_ANSIBLE_TEST = False
ANSIBLE_TEST_LOCAL_IMAGE = False
INFRA_OSD = False
RUN_FLAKE8 = False
ANSIBLE_LOCAL_TMP = {ansible_tmp}
TMP_ROOT_DIR = {tmp_root}
"""


def importer_environment(work: Path, importer_bin: Path) -> dict[str, str]:
    """ansible_environment's isolation (no user ansible.cfg, private ANSIBLE_HOME), a private HOME, the importer's
    venv first on PATH (it runs ansible-doc and ansible-lint from PATH), and no GALAXY_IMPORTER_* setting but ours
    (each would override the configuration file)."""
    env = {
        key: value
        for key, value in ansible_environment(work / "ansible-home").items()
        if not key.startswith("GALAXY_IMPORTER_")
    }
    (work / "home").mkdir()
    (work / "ansible-tmp").mkdir()
    config = work / "galaxy-importer.cfg"
    config.write_text(IMPORTER_CONFIG.format(ansible_tmp=work / "ansible-tmp", tmp_root=work))
    env.update(
        {
            "HOME": str(work / "home"),
            "XDG_CACHE_HOME": str(work / "home" / ".cache"),
            "PATH": f"{importer_bin}{os.pathsep}{env.get('PATH', os.defpath)}",
            "GALAXY_IMPORTER_CONFIG": str(config),
        }
    )
    return env


def allowed(line: str) -> bool:
    return any(pattern.fullmatch(line) for _name, pattern, _why in ALLOWED_FINDINGS)


def problems_in(output: str, errors: str, returncode: int) -> list[str]:
    """The importer's findings: its WARNING/ERROR/CRITICAL lines not allowed, its stderr, a failed or cut import."""
    problems = [line for line in output.splitlines() if FINDING.match(line) and not allowed(line)]
    problems += [f"stderr: {line}" for line in errors.splitlines() if line.strip()]
    if returncode != 0 or COMPLETED not in output:
        last_lines = "\n    ".join(output.splitlines()[-LOG_TAIL:])
        problems.append(f"the import did not complete (exit status {returncode}); the log ends:\n    {last_lines}")
    return problems


def undocumented(result: dict[str, Any], collection: Path) -> list[str]:
    """What Galaxy would show without documentation although the collection documents it: the importer reads the docs
    with `ansible-doc --list`, which leaves out a plugin whose documentation does not parse, and says nothing."""
    problems = []
    for content in result["docs_blob"]["contents"]:
        kind, name = content["content_type"], content["content_name"]
        documented_here = kind == "module" or (collection / "plugins" / kind / f"{name}.yml").is_file()
        if documented_here and not content.get("doc_strings"):
            problems.append(f"{kind} {name}: the importer found no documentation (does `ansible-doc` read it?)")
    return problems


class ImportOutcome(NamedTuple):
    tarball: str
    importer: str  # "galaxy-importer X.Y.Z", as its log names itself
    problems: list[str]


def run_importer(collection: Path, importer_venv: Path) -> ImportOutcome:
    """Build the collection at `collection` and import the tarball."""
    with tempfile.TemporaryDirectory(prefix="certops-galaxy-import-") as tmp:
        work = Path(tmp)
        env = importer_environment(work, importer_venv / "bin")
        tarball = build_collection(env, work / "build", collection)
        done = subprocess.run(
            [str(importer_venv / "bin" / "python"), "-m", "galaxy_importer.main", str(tarball)],
            cwd=work,  # where it writes importer_result.json
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        problems = problems_in(done.stdout, done.stderr, done.returncode)
        result_file = work / "importer_result.json"
        if result_file.is_file():
            problems += undocumented(json.loads(result_file.read_text()), collection)
    named = IMPORTER_NAME.search(done.stdout)
    return ImportOutcome(tarball.name, named.group(1) if named else "galaxy-importer", problems)


def importer_installed(importer_venv: Path) -> bool:
    # ansible-lint is the importer's last dependency to land in bin/: a venv whose install broke off lacks it.
    return (importer_venv / "bin" / "python").is_file() and (importer_venv / "bin" / "ansible-lint").is_file()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("collection", nargs="?", type=Path, default=REPO, help="the collection's directory")
    parser.add_argument("--importer-venv", type=Path, default=IMPORTER_VENV, help="the venv with galaxy-importer")
    arguments = parser.parse_args()
    if not importer_installed(arguments.importer_venv):
        print(f"galaxy-importer is not installed in {arguments.importer_venv}: run `make lint`", file=sys.stderr)
        return 2
    outcome = run_importer(arguments.collection.resolve(), arguments.importer_venv)
    if outcome.problems:
        print(f"Galaxy import check of {outcome.tarball} failed; {outcome.importer} reported:")
        print("  " + "\n  ".join(outcome.problems))
        return 1
    print(f"Galaxy import check: {outcome.importer} imported {outcome.tarball} without a warning or error")
    return 0


if __name__ == "__main__":
    sys.exit(main())
