"""`make matrix`: the version matrix, every cell in venvs of its own under .matrix/, installed from the project's files.

    python tools/matrix.py run [CELL ...]    # the given cells, or all of them, one after another
    python tools/matrix.py lock [VENV ...]   # re-resolve requirements/lock/<venv>.txt (needs the package index)
    python tools/matrix.py list              # the cells and the venvs they use

Cells (see CELLS):
- controller-<ansible-core series>: unit and end-to-end tests (all of tests/) with that ansible-core, modules
  running in the same venv;
- sanity-<series>: `ansible-test sanity` with that ansible-core (tools/run_sanity.py);
- target-<Python>: the end-to-end tests of the modules (TARGET_TESTS) with the newest controller, modules running in
  a venv of that Python that holds only requirements.txt at the newest versions pip gives there, for the target
  Pythons no controller cell runs on (3.9, 3.10; the controller cells run modules on 3.11, 3.12 and 3.13);
- floors-<Python>: the same with the oldest target Python and boto3, botocore and cryptography exactly at the
  versions requirements.txt names as its floors.

Every venv installs its requirement files constrained by requirements/lock/<venv>.txt, and the install fails when it
brings any package the lock does not pin: the matrix runs exactly what is committed. A venv is reused while its
Python, requirement files and lock are unchanged. A cell that passed on the same commit, with a clean work tree
and the same venvs, is not run again (its earlier result is reported as such; `--fresh` runs every cell): so
`make matrix` after .ci/run in the same clone does not run again the cells CI ran (controller-2.17, floors-3.9).
The summary (cells, versions, tests, result, time) is written to .matrix/summary.md after every cell and printed
at the end. Exits non-zero when any cell failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pythons import find_python

ROOT = Path(__file__).resolve().parents[1]
MATRIX = ROOT / ".matrix"
LOCKS = ROOT / "requirements" / "lock"
RUNTIME = "requirements.txt"
DEV = "requirements-dev.txt"
LINT = "requirements-lint.txt"
PIP = ["-m", "pip", "--disable-pip-version-check", "--no-input"]


def core(series: str) -> str:
    return f"requirements/ansible-core-{series}.txt"


@dataclasses.dataclass(frozen=True)
class Venv:
    """A venv: its Python (X.Y), the requirement files it installs, and the lock that pins them."""

    python: str
    inputs: tuple[str, ...]
    lock: str
    floors: bool = False  # install requirements.txt with every `>=` floor turned into `==`

    @property
    def lock_file(self) -> Path:
        return LOCKS / f"{self.lock}.txt"


# The default venvs of `make test` (tools/pythons.py picks the series): the matrix's 2.19 and 2.21 controller cells
# run with their exact versions. Their locks include requirements-lint.txt; the cells install a subset.
VENVS = {
    "default-2.19": Venv("3.11", (DEV, LINT, core("2.19")), "default-2.19"),
    "default-2.21": Venv("3.13", (DEV, LINT, core("2.21")), "default-2.21"),
    "controller-2.17": Venv("3.11", (DEV, core("2.17")), "controller-2.17"),
    "controller-2.18": Venv("3.11", (DEV, core("2.18")), "controller-2.18"),
    "controller-2.19": Venv("3.11", (DEV, core("2.19")), "default-2.19"),
    "controller-2.20": Venv("3.12", (DEV, core("2.20")), "controller-2.20"),
    "controller-2.21": Venv("3.13", (DEV, core("2.21")), "default-2.21"),
    # Targets hold requirements.txt only, at the newest versions pip gives on their Python.
    "target-3.9": Venv("3.9", (RUNTIME,), "target-3.9"),
    "target-3.10": Venv("3.10", (RUNTIME,), "target-3.10"),
    "floors-3.9": Venv("3.9", (RUNTIME,), "floors-3.9", floors=True),
    # Not a cell: the Galaxy import check of `make lint` (.venv/importer, made by the Makefile with its Python, 3.11
    # to 3.13). Resolved on the oldest, which needs one more package (typing-extensions); a superset of the others.
    "galaxy-importer": Venv("3.11", ("requirements/galaxy-importer.txt",), "galaxy-importer"),
}
NEWEST_CONTROLLER = "controller-2.21"


@dataclasses.dataclass(frozen=True)
class Cell:
    name: str
    controller: str  # the venv whose Python runs the command
    command: tuple[str, ...]  # arguments to that Python
    target: str | None = None  # the venv whose Python runs the modules (CERTOPS_TARGET_PYTHON)
    what: str = ""


# Two workers, a test file on one of them, as `make test` runs them (TEST_WORKERS in the Makefile).
PYTEST = ("-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile")
# What the target and floors cells run: the end-to-end tests that drive both modules through every state, check and
# diff mode, refusal, fault and retry, with the modules in the target venv; and one run of the host role, whose
# modules (and community.crypto's) run on the hosts. The rotation role, the demo playbook, the docs and the
# multi-account inventory add controller-side behaviour over the same module calls: they run in every controller
# cell (all of tests/).
TARGET_TESTS = (
    *(f"tests/e2e/test_e2e_{name}.py" for name in ("adhoc", "playbooks", "integration_targets", "failures", "faults")),
    "tests/e2e/test_e2e_host_signing_certificate.py::test_first_time_due_not_due_and_blocked_hosts_in_one_run",
)
CELLS = [
    *(
        Cell(f"controller-{s}", f"controller-{s}", PYTEST, what="unit + end-to-end")
        for s in ("2.17", "2.18", "2.19", "2.20", "2.21")
    ),
    *(
        Cell(f"sanity-{s}", f"controller-{s}", ("tools/run_sanity.py", "sanity"), what="ansible-test sanity")
        for s in ("2.17", "2.18", "2.19", "2.20", "2.21")
    ),
    # Target Pythons 3.11, 3.12 and 3.13 run the modules in every controller cell (with the newest SDKs pip gives
    # there, all of tests/): the target cells add the Pythons no controller runs on.
    *(
        Cell(
            f"target-{v}",
            NEWEST_CONTROLLER,
            (*PYTEST, *TARGET_TESTS),
            target=f"target-{v}",
            what="end-to-end (modules)",
        )
        for v in ("3.9", "3.10")
    ),
    Cell("floors-3.9", NEWEST_CONTROLLER, (*PYTEST, *TARGET_TESTS), target="floors-3.9", what="end-to-end (modules)"),
]
CELLS_BY_NAME = {cell.name: cell for cell in CELLS}


class MatrixError(Exception):
    pass


def interpreter(version: str) -> str:
    found = find_python(version)
    if found is None:
        raise MatrixError(
            f"Python {version} not found: neither $(pyenv root)/versions/{version}.*/bin/python nor python{version} "
            "on PATH runs (install it with `pyenv install`)"
        )
    return found


def floors(requirements: Path) -> str:
    """requirements.txt with each `name>=X` floor as `name==X`; every requirement must name a floor."""
    pinned = []
    for line in requirements.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if not requirement:
            continue
        match = re.fullmatch(r"([A-Za-z0-9._\[\]-]+)\s*>=\s*([0-9][0-9.]*)", requirement)
        if match is None:
            raise MatrixError(f"{requirements.name}: {requirement!r} names no `>=` floor for the floors cell to test")
        pinned.append(f"{match.group(1)}=={match.group(2)}")
    return "\n".join(pinned) + "\n"


def requirement_arguments(venv: Venv, directory: Path) -> list[str]:
    if not venv.floors:
        return [argument for name in venv.inputs for argument in ("-r", str(ROOT / name))]
    floors_file = directory / "floors.txt"
    floors_file.write_text(floors(ROOT / RUNTIME))
    return ["-r", str(floors_file)]


def run_quiet(argv: list[str], what: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise MatrixError(f"{what} failed ({' '.join(argv)}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done.stdout


def installed(python: Path) -> dict[str, str]:
    """{normalised name: version} of what the venv holds, pip's own tooling left out."""
    listed = json.loads(run_quiet([str(python), *PIP, "list", "--format", "json"], "pip list"))
    return {
        normalise(entry["name"]): entry["version"]
        for entry in listed
        if normalise(entry["name"]) not in ("pip", "setuptools", "wheel")
    }


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise MatrixError(f"{path.relative_to(ROOT)} is missing: run `make matrix-lock`")
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _equals, version = line.partition("==")
            pins[normalise(name)] = version
    return pins


def fingerprint(venv: Venv, python: str) -> str:
    digest = hashlib.sha256(python.encode())
    for name in (*venv.inputs, RUNTIME, DEV):
        digest.update((ROOT / name).read_bytes())
    digest.update(venv.lock_file.read_bytes())
    digest.update(str(venv.floors).encode())
    return digest.hexdigest()


def ensure_venv(name: str) -> Path:
    """.matrix/venvs/<name>, installed from its requirement files under its lock; returns its python."""
    venv = VENVS[name]
    python = interpreter(venv.python)
    directory = MATRIX / "venvs" / name
    stamp = directory / ".installed"
    wanted = fingerprint(venv, python)
    if stamp.is_file() and stamp.read_text() == wanted:
        return directory / "bin" / "python"
    print(f"--- venv {name}: Python {venv.python} ({python}), {', '.join(venv.inputs)} under {venv.lock_file.name}")
    run_quiet([python, "-m", "venv", "--clear", str(directory)], f"creating the venv {name}")
    venv_python = directory / "bin" / "python"
    arguments = requirement_arguments(venv, directory)
    run_quiet(
        [str(venv_python), *PIP, "install", "--quiet", *arguments, "-c", str(venv.lock_file)], f"installing {name}"
    )
    pins = read_lock(venv.lock_file)
    unpinned = [f"{p}=={v}" for p, v in sorted(installed(venv_python).items()) if pins.get(p) != v]
    if unpinned:
        raise MatrixError(
            f"venv {name} holds packages that {venv.lock_file.relative_to(ROOT)} does not pin: {', '.join(unpinned)}; "
            "run `make matrix-lock`"
        )
    stamp.write_text(wanted)
    return venv_python


def lock(name: str) -> None:
    """Resolve the venv's requirement files afresh (newest versions pip gives on its Python) and pin them all."""
    venv = VENVS[name]
    if venv.lock != name:
        raise MatrixError(f"venv {name} uses the lock {venv.lock}; lock that one")
    python = interpreter(venv.python)
    with tempfile.TemporaryDirectory(prefix=f"certops-lock-{name}-") as tmp:
        run_quiet([python, "-m", "venv", tmp], f"creating a venv for {name}")
        venv_python = str(Path(tmp) / "bin" / "python")
        run_quiet(
            [venv_python, *PIP, "install", "--quiet", *requirement_arguments(venv, Path(tmp))], f"resolving {name}"
        )
        version = run_quiet([venv_python, "-c", "import platform; print(platform.python_version())"], "python").strip()
        frozen = installed(Path(venv_python))
    inputs = "requirements.txt with its floors as exact versions" if venv.floors else ", ".join(venv.inputs)
    header = (
        f"# Every package of the venv {name} (Python {venv.python}; resolved with {version}): {inputs}.\n"
        "# Generated by `make matrix-lock` (python tools/matrix.py lock); installs take exact versions from here.\n"
    )
    body = "".join(f"{package}=={frozen[package]}\n" for package in sorted(frozen))
    venv.lock_file.parent.mkdir(parents=True, exist_ok=True)
    venv.lock_file.write_text(header + body)
    print(f"wrote {venv.lock_file.relative_to(ROOT)} ({len(frozen)} packages)")


VERSIONS = """
import importlib.metadata as m, platform
def v(name):
    try:
        return m.version(name)
    except m.PackageNotFoundError:
        return None
print({"python": platform.python_version(), **{n: v(n) for n in ("ansible-core", "boto3", "botocore", "cryptography")}})
"""


def versions(python: Path) -> dict[str, str | None]:
    import ast

    return ast.literal_eval(run_quiet([str(python), "-c", VERSIONS], "reading versions").strip())


@dataclasses.dataclass
class Outcome:
    cell: Cell
    passed: bool
    seconds: float
    controller: dict[str, str | None] = dataclasses.field(default_factory=dict)
    target: dict[str, str | None] = dataclasses.field(default_factory=dict)
    tests: str = ""
    error: str = ""
    reused_from: str = ""  # when an earlier passing result of the same commit stands for this run

    def record(self) -> dict:
        return {
            "passed": self.passed,
            "seconds": self.seconds,
            "controller": self.controller,
            "target": self.target,
            "tests": self.tests,
            "error": self.error,
        }


def clean_commit() -> str | None:
    """HEAD's commit when the work tree has no change (untracked and ignored files aside), else None."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    if status.returncode != 0 or head.returncode != 0 or status.stdout.strip():
        return None
    return head.stdout.strip()


def cell_key(cell: Cell, commit: str | None) -> dict | None:
    if commit is None:
        return None
    venvs = [cell.controller, *([cell.target] if cell.target else [])]
    return {
        "commit": commit,
        "venvs": {name: fingerprint(VENVS[name], interpreter(VENVS[name].python)) for name in venvs},
    }


def earlier_pass(cell: Cell, key: dict | None) -> Outcome | None:
    path = MATRIX / "cells" / cell.name / "result.json"
    if key is None or not path.is_file():
        return None
    saved = json.loads(path.read_text())
    if saved.get("key") != key or not saved["result"]["passed"]:
        return None
    result = saved["result"]
    return Outcome(
        cell,
        True,
        result["seconds"],
        result["controller"],
        result["target"],
        result["tests"],
        reused_from=f"passed at {saved['finished']} on the same commit",
    )


def tests_line(log: str) -> str:
    """pytest's closing counts ("236 passed, 1 skipped") or ansible-test's, from the cell's output."""
    closing = re.findall(r"^=*\s*((?:\d+ \w+(?:, )?)+) in [\d.]+s", log, re.M)
    if closing:
        return closing[-1].strip(", ")
    if "sanity" in log:
        failed = len(re.findall(r"^ERROR: Found \d+ ", log, re.M))
        ran = len(re.findall(r"^Running sanity test ['\"]", log, re.M))
        return f"{ran} sanity tests" + (f", {failed} failed" if failed else "")
    return ""


def run_cell(cell: Cell, fresh: bool) -> Outcome:
    start = time.monotonic()
    directory = MATRIX / "cells" / cell.name
    directory.mkdir(parents=True, exist_ok=True)
    log_path = directory / "log.txt"
    print(f"\n=== {cell.name}: {cell.what}", flush=True)
    try:
        key = cell_key(cell, clean_commit())
    except MatrixError as error:
        print(f"!!! {cell.name}: {error}", flush=True)
        return Outcome(cell, False, time.monotonic() - start, error=str(error))
    earlier = None if fresh else earlier_pass(cell, key)
    if earlier is not None:
        print(f"{cell.name}: {earlier.reused_from} ({earlier.tests}); not run again", flush=True)
        return earlier
    try:
        controller = ensure_venv(cell.controller)
        target = ensure_venv(cell.target) if cell.target else None
    except MatrixError as error:
        print(f"!!! {cell.name}: {error}", flush=True)
        return Outcome(cell, False, time.monotonic() - start, error=str(error))
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "CERTOPS_TARGET_PYTHON")}
    env["PATH"] = f"{controller.parent}{os.pathsep}{env.get('PATH', '')}"
    if target is not None:
        env["CERTOPS_TARGET_PYTHON"] = str(target)
    argv = [str(controller), *cell.command]
    print(f"+ {' '.join(argv)}" + (f"  (modules on {target})" if target else ""), flush=True)
    lines = []
    with log_path.open("w") as log:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            log.write(line)
            lines.append(line)
        code = process.wait()
    outcome = Outcome(cell, code == 0, time.monotonic() - start, tests=tests_line("".join(lines)))
    outcome.controller = versions(controller)
    if target is not None:
        outcome.target = versions(target)
    if code != 0:
        outcome.error = f"exit code {code}; log: {log_path.relative_to(ROOT)}"
    finished = time.strftime("%Y-%m-%d %H:%M:%S")
    (directory / "result.json").write_text(json.dumps({"key": key, "finished": finished, "result": outcome.record()}))
    return outcome


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def summary(outcomes: list[Outcome], total: float) -> str:
    rows = [
        "| cell | what | ansible-core | controller Python | target Python | boto3 / botocore / cryptography "
        "(target) | tests | result | time |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for o in outcomes:
        c = o.controller
        t = o.target or c
        sdk = " / ".join(str(t.get(n)) for n in ("boto3", "botocore", "cryptography")) if t else ""
        if o.cell.name.startswith("sanity-"):
            sdk, target_python = "", ""
        else:
            target_python = t.get("python", "") if t else ""
        result = "pass" if o.passed else f"**FAIL** ({o.error})"
        if o.reused_from:
            result += f" ({o.reused_from})"
        rows.append(
            f"| {o.cell.name} | {o.cell.what} | {c.get('ansible-core', '')} | {c.get('python', '')} | "
            f"{target_python} | {sdk} | {o.tests} | {result} | {minutes(o.seconds)} |"
        )
    passed = sum(o.passed for o in outcomes)
    rows.append("")
    rows.append(f"{passed} of {len(outcomes)} cells passed in {minutes(total)} (min:s) on {os.cpu_count()} cores.")
    return "\n".join(rows) + "\n"


def run(names: list[str], fresh: bool) -> int:
    unknown = [name for name in names if name not in CELLS_BY_NAME]
    if unknown:
        raise MatrixError(f"unknown cells {', '.join(unknown)}; `python tools/matrix.py list` shows them")
    cells = [CELLS_BY_NAME[name] for name in names] if names else CELLS
    start = time.monotonic()
    outcomes = []
    MATRIX.mkdir(exist_ok=True)
    for cell in cells:
        outcomes.append(run_cell(cell, fresh))
        text = summary(outcomes, time.monotonic() - start)
        (MATRIX / "summary.md").write_text(text)
    print("\n=== version matrix summary (also in .matrix/summary.md)\n" + text, flush=True)
    return 0 if all(o.passed for o in outcomes) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="run cells (all when none is named)")
    run_parser.add_argument("cells", nargs="*")
    run_parser.add_argument("--fresh", action="store_true", help="run cells that passed on this commit again")
    commands.add_parser("lock", help="re-resolve locks (all when none is named)").add_argument("venvs", nargs="*")
    commands.add_parser("list", help="list the cells and venvs")
    arguments = parser.parse_args()
    try:
        if arguments.command == "run":
            return run(arguments.cells, arguments.fresh)
        if arguments.command == "lock":
            for name in arguments.venvs or sorted({venv.lock for venv in VENVS.values()}):
                lock(name)
            return 0
        for cell in CELLS:
            target = f", modules in {cell.target}" if cell.target else ""
            print(f"{cell.name:18} {cell.what:20} venv {cell.controller}{target}")
        return 0
    except MatrixError as error:
        print(f"matrix: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
