"""`make lint`: the execution environment files, checked with ansible-builder, offline (no container engine, no
registry, no package index).

1. meta/execution-environment.yml is what ansible-builder reads from this collection when it builds any execution
   environment that includes it. The collection is built and installed as a user gets it, and
   `ansible-builder introspect` must report exactly requirements.txt and bindep.txt for certops.aws.
2. docs/examples/execution-environment.yml, an execution environment for the collection: `ansible-builder create`
   must write its build context (with the collection tarball in it), and its pins (ansible-core, and the Python
   packages the modules need) must be the versions that the matrix cell it names ran
   (requirements/lock/default-2.21.txt: ansible-core 2.21 on Python 3.13, modules in the same Python), each
   within the range requirements.txt allows.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from packaging.requirements import Requirement

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools.harness import BIN, REPO, ansible_environment, install_collection

EXAMPLE = REPO / "docs" / "examples" / "execution-environment.yml"
LOCK = REPO / "requirements" / "lock" / "default-2.21.txt"


def requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def builder(*args: str) -> str:
    argv = [str(BIN / "ansible-builder"), *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def pins(lock: Path) -> dict[str, str]:
    found = {}
    for line in requirement_lines(lock):
        name, _equals, version = line.partition("==")
        found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


def check_collection_metadata(collections: Path) -> list[str]:
    reported = yaml.safe_load(builder("introspect", "--sanitize", str(collections)))
    problems = []
    for kind, source in (("python", "requirements.txt"), ("system", "bindep.txt")):
        ours = [entry.split("#", 1)[0].strip() for entry in reported.get(kind) or [] if "certops.aws" in entry]
        if ours != requirement_lines(REPO / source):
            problems.append(f"ansible-builder introspect reports {kind} requirements {ours}, not those of {source}")
    return problems


def check_example(tarball: Path, work: Path) -> list[str]:
    definition = yaml.safe_load(EXAMPLE.read_text())
    dependencies = definition["dependencies"]
    problems = []
    # The layout the example expects: the definition two folders below the tarball (the repository root).
    layout = work / "layout"
    (layout / "docs" / "examples").mkdir(parents=True)
    shutil.copy2(EXAMPLE, layout / "docs" / "examples")
    shutil.copy2(tarball, layout)
    context = work / "context"
    builder("create", "--file", str(layout / "docs/examples/execution-environment.yml"), "--context", str(context))
    if not (context / "_build" / tarball.name).is_file():
        problems.append(f"the build context lacks {tarball.name}: does the example name the version in galaxy.yml?")
    if requirement_lines(context / "_build" / "requirements.txt") != dependencies["python"]:
        problems.append("the build context's requirements.txt is not the example's python dependencies")

    tested = pins(LOCK)
    floors = {Requirement(line).name: Requirement(line) for line in requirement_lines(REPO / "requirements.txt")}
    pinned = [dependencies["ansible_core"]["package_pip"], *dependencies["python"]]
    for line in pinned:
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        if len(specifiers) != 1 or specifiers[0].operator != "==":
            problems.append(f"{EXAMPLE.name}: {line!r} is not pinned with ==")
            continue
        version = specifiers[0].version
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        if tested.get(name) != version:
            problems.append(f"{EXAMPLE.name}: {line} but the matrix ran {name} {tested.get(name)} ({LOCK.name})")
        if name in floors and not floors[name].specifier.contains(version):
            problems.append(f"{EXAMPLE.name}: {line} is outside requirements.txt's {floors[name]}")
    missing = sorted(set(floors) - {Requirement(line).name for line in dependencies["python"]})
    if missing:
        problems.append(f"{EXAMPLE.name} does not pin {', '.join(missing)} (named by requirements.txt)")
    return problems


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="certops-ee-") as tmp:
        work = Path(tmp)
        collections = install_collection(ansible_environment(work / "home"), work / "build")
        (tarball,) = (work / "build").glob("certops-aws-*.tar.gz")
        problems = check_collection_metadata(collections) + check_example(tarball, work)
    if problems:
        print("execution environment check failed:\n  " + "\n  ".join(problems))
        return 1
    print("execution environment: meta/execution-environment.yml introspected, docs/examples one created, pins tested")
    return 0


if __name__ == "__main__":
    sys.exit(main())
