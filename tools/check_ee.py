"""`make lint`: the execution environment files, checked with ansible-builder, offline (no container engine, no
registry, no package index, no Galaxy).

1. meta/execution-environment.yml is what ansible-builder reads from this collection when it builds any execution
   environment that includes it. The collection is built and installed as a user gets it, and
   `ansible-builder introspect` must report exactly requirements.txt and bindep.txt for certops.aws.
2. docs/examples/execution-environment.yml, an execution environment for the collection, in a copy of the layout its
   header describes (its folder, and build/collections/ holding the tarballs of certops.aws as built and of
   community.crypto from tools/dependencies.py): `ansible-builder create` must write its build context without a
   warning (it only warns, and exits 0, when a file the example names is missing), with both tarballs in it. The
   galaxy stage of the Containerfile it writes is then run here, its image paths mapped into a temporary folder and
   Galaxy unreachable: it must install both collections, offline. The example must list every collection galaxy.yml
   depends on, and its pins (ansible-core, and the Python packages the modules need) must be the versions that the
   matrix cell it names ran (requirements/lock/default-2.21.txt: ansible-core 2.21 on Python 3.13, modules in the
   same Python), each within the range requirements.txt allows.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import yaml
from packaging.requirements import Requirement

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools.dependencies import BUNDLED, tarball_name, write_tarballs
from tools.harness import BIN, REPO, ansible_environment, dependency_collections, install_collection

EXAMPLE = REPO / "docs" / "examples" / "execution-environment.yml"
LOCK = REPO / "requirements" / "lock" / "default-2.21.txt"
# Where the example's header has the tarballs put, relative to the repository root.
TARBALLS_DIR = Path("build", "collections")
# At verbosity 1 ansible-builder prints its warnings and errors, and this line when it is done.
BUILDER_DONE = "Complete! The build context can be found at:"
# Nothing listens on the discard port: a step that asks Galaxy fails at once.
NO_GALAXY = "http://127.0.0.1:9/"
# The image's folders the galaxy stage writes and reads; mapped into a temporary folder when it is run here.
IMAGE_ANSIBLE = "/usr/share/ansible"
IMAGE_BUILD = "/build"
# Steps of the galaxy stage that need the image itself (ansible-builder's scripts): not run here.
IMAGE_ONLY = "/output/scripts/"


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


def galaxy_metadata() -> dict:
    return yaml.safe_load((REPO / "galaxy.yml").read_text())


def expected_tarballs() -> dict[str, str]:
    """{collection: tarball name} of what the example installs: certops.aws as galaxy.yml versions it, and each of
    its dependencies as tools/dependencies.py writes it."""
    metadata = galaxy_metadata()
    expected = {"certops.aws": f"certops-aws-{metadata['version']}.tar.gz"}
    expected.update({name: tarball_name(name) for name in metadata.get("dependencies") or {}})
    return expected


def check_collection_metadata(collections: Path) -> list[str]:
    reported = yaml.safe_load(builder("introspect", "--sanitize", str(collections)))
    problems = []
    for kind, source in (("python", "requirements.txt"), ("system", "bindep.txt")):
        ours = [entry.split("#", 1)[0].strip() for entry in reported.get(kind) or [] if "certops.aws" in entry]
        if ours != requirement_lines(REPO / source):
            problems.append(f"ansible-builder introspect reports {kind} requirements {ours}, not those of {source}")
    return problems


def create_context(example: Path, tarballs: Sequence[Path], work: Path) -> tuple[Path | None, list[str]]:
    """`ansible-builder create` of the example in the layout its header describes; returns the context (None when
    ansible-builder failed) and every warning or error it printed, each a problem."""
    layout = work / "layout"
    examples = layout / EXAMPLE.parent.relative_to(REPO)
    shutil.copytree(example.parent, examples)
    (layout / TARBALLS_DIR).mkdir(parents=True)
    for tarball in tarballs:
        shutil.copy2(tarball, layout / TARBALLS_DIR)
    context = work / "context"
    argv = [str(BIN / "ansible-builder"), "create", "--verbosity", "1", "--output-filename", "Containerfile"]
    argv += ["--file", str(examples / example.name), "--context", str(context)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env={**os.environ, "NO_COLOR": "1"})
    printed = [line.strip() for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    problems = [f"ansible-builder create: {line}" for line in printed if not line.startswith(BUILDER_DONE)]
    if done.returncode != 0:
        return None, problems or [f"ansible-builder create failed (exit code {done.returncode})"]
    return context, problems


def _image_path(text: str, image_root: Path, context: Path) -> str:
    """text with the image's folders replaced by their places here: the image's /build is the context's _build
    (ansible-builder copies the one to the other), /usr/share/ansible goes under image_root."""
    text = re.sub(rf"(?<![\w./-]){re.escape(IMAGE_ANSIBLE)}(?=[/\s\"']|$)", str(image_root / "usr/share/ansible"), text)
    return re.sub(rf"(?<![\w./-]){re.escape(IMAGE_BUILD)}(?=[/\s\"']|$)", str(context / "_build"), text)


def run_galaxy_stage(containerfile: Path, work: Path) -> tuple[Path, list[str]]:
    """The galaxy stage of the Containerfile, run here with Galaxy unreachable, up to its first failing step; returns
    its collections path and the problems: that step, or one this emulation cannot run."""
    context = containerfile.parent
    lines = containerfile.read_text().splitlines()
    build_args = dict(re.findall(r'^ARG (\w+)="(.*)"$', "\n".join(lines), flags=re.MULTILINE))
    image_root = work / "image"
    collections = image_root / "usr/share/ansible/collections"
    collections.mkdir(parents=True)
    env = {
        **ansible_environment(work / "galaxy-home", collections),
        **build_args,
        "ANSIBLE_GALAXY_SERVER": NO_GALAXY,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    if "FROM base AS galaxy" not in lines:
        return collections, ["the Containerfile has no galaxy stage: the example installs no collection"]
    stage = lines[lines.index("FROM base AS galaxy") + 1 :]
    stage = stage[: next((i for i, line in enumerate(stage) if line.startswith("FROM ")), len(stage))]
    problems, workdir = [], image_root
    for line in stage:
        instruction, _space, argument = line.partition(" ")
        if instruction == "COPY":
            source, destination = argument.split()
            # The emulation reads the image's /build from the context's _build: a COPY that maps otherwise breaks it.
            if _image_path(destination, image_root, context) != str(context / source):
                problems.append(f"cannot run the galaxy stage here: {line!r} does not copy _build to /build")
        elif instruction == "WORKDIR":
            workdir = Path(_image_path(argument, image_root, context))
        elif instruction == "RUN" and IMAGE_ONLY not in argument:
            command = _image_path(argument, image_root, context)
            done = subprocess.run(
                ["sh", "-c", command], cwd=workdir, env=env, capture_output=True, text=True, check=False
            )
            if done.returncode != 0:  # the build stops there
                return collections, [*problems, f"the galaxy stage's {line!r} failed here:\n{done.stdout}{done.stderr}"]
    return collections, problems


def installed_collections(collections: Path, work: Path) -> dict[str, str]:
    argv = [str(BIN / "ansible-galaxy"), "collection", "list", "--format", "json"]
    env = ansible_environment(work / "list-home", collections)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # none installed
        return {}
    found = json.loads(done.stdout).get(str(collections / "ansible_collections"), {})
    return {name: details["version"] for name, details in found.items()}


def check_pins(dependencies: dict) -> list[str]:
    problems = []
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


def check_example(example: Path, tarballs: Sequence[Path], work: Path) -> list[str]:
    """The example, given the collection tarballs it is built from (see the module's docstring)."""
    dependencies = yaml.safe_load(example.read_text())["dependencies"]
    listed = {entry["name"] for entry in (dependencies.get("galaxy") or {}).get("collections") or []}
    problems = [
        f"{example.name} does not list {name} in dependencies.galaxy.collections"
        for name in expected_tarballs()
        if name not in listed
    ]
    context, builder_problems = create_context(example, tarballs, work)
    problems += builder_problems
    if context is None:
        return problems
    in_context = {path.name for path in (context / "_build").rglob("*.tar.gz")}
    problems += [
        f"the build context lacks {name} ({collection}): is it in {TARBALLS_DIR}/, and does the example take it?"
        for collection, name in expected_tarballs().items()
        if name not in in_context
    ]
    if requirement_lines(context / "_build" / "requirements.txt") != dependencies["python"]:
        problems.append("the build context's requirements.txt is not the example's python dependencies")

    collections, stage_problems = run_galaxy_stage(context / "Containerfile", work)
    problems += stage_problems
    installed = installed_collections(collections, work)
    wanted = {"certops.aws": galaxy_metadata()["version"], **BUNDLED}
    problems += [
        f"the galaxy stage, run here offline, installed {name} {installed.get(name)}, not {version}"
        for name, version in wanted.items()
        if installed.get(name) != version
    ]
    return problems + check_pins(dependencies)


def build_tarballs(work: Path) -> tuple[Path, list[Path]]:
    """certops.aws built and installed as a user gets it (work/build), and the tarballs the example is built from:
    certops.aws's, then its dependencies' (taken from the venv's collections, no download)."""
    collections = install_collection(ansible_environment(work / "home"), work / "build")
    (tarball,) = (work / "build").glob("certops-aws-*.tar.gz")
    return collections, [tarball, *write_tarballs(work / "dependencies", dependency_collections())]


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="certops-ee-") as tmp:
        work = Path(tmp)
        collections, tarballs = build_tarballs(work)
        problems = check_collection_metadata(collections) + check_example(EXAMPLE, tarballs, work / "example")
    if problems:
        print("execution environment check failed:\n  " + "\n  ".join(problems))
        return 1
    print(
        "execution environment: meta/execution-environment.yml introspected; docs/examples one created, its galaxy "
        "stage installed certops.aws and community.crypto offline, pins tested"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
