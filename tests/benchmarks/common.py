"""What every benchmark section shares: paths, a scrubbed AWS environment, loopback-only sockets, the moto
server, a collections tree for a checkout, the machine's description and small statistics helpers."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from tools import harness

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent
LIBRARY = HERE / "library"  # the floor module
METER = HERE / "meter.py"
AWSCLI_REQUIREMENTS = HERE / "requirements-awscli.txt"


def awscli_venv() -> Path:
    """Where AWS CLI v1 gets a venv of its own: outside the checkout, or `ansible-galaxy collection build` and
    copies made for ansible-test would take in its thousands of files. Named after the pins, so a new pin gets a
    new venv."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    pins = hashlib.sha256(AWSCLI_REQUIREMENTS.read_bytes()).hexdigest()[:12]
    return cache / "certops-aws-benchmarks" / f"awscli-{pins}"


DUMMY_CREDENTIALS = harness.DUMMY_AWS_ENVIRONMENT
# The moto server on 127.0.0.1 and its reset, as the tests use them.
moto_server = harness.moto_server
reset_moto = harness.reset_moto
_DROPPED_PREFIXES = ("AWS_", "ANSIBLE_", "EC2_", "BOTO_", "PYTHONPATH")


def clean_environ(**extra: str) -> dict[str, str]:
    """os.environ without AWS/Ansible settings, plus dummy credentials and `extra`: for every child process."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(_DROPPED_PREFIXES)}
    env.update(DUMMY_CREDENTIALS)
    env.update(extra)
    return env


def scrub_own_environment() -> None:
    """The same for this process, whose in-process boto3 clients must see only dummy credentials."""
    for key in [key for key in os.environ if key.startswith(_DROPPED_PREFIXES)]:
        del os.environ[key]
    os.environ.update(DUMMY_CREDENTIALS)


# -- loopback only, and the moto server: shared with the tests (tools/harness.py) --------------------------------------
def guard_loopback() -> None:
    """Refuse, in this process, any name lookup or connection that would leave the machine."""
    harness.guard_loopback("the benchmark")


def iam_client(endpoint: str, max_pool_connections: int = 10) -> Any:
    """A plain boto3 IAM client: for seeding the server and for the in-process baselines."""
    import boto3
    import botocore.config

    return boto3.session.Session().client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=botocore.config.Config(max_pool_connections=max_pool_connections, retries={"mode": "standard"}),
    )


# -- the collection ------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def collections_tree(checkout: Path) -> Iterator[Path]:
    """A temporary ANSIBLE_COLLECTIONS_PATH whose ansible_collections/certops/aws is a symlink to `checkout`."""
    tree = Path(tempfile.mkdtemp(prefix="certops-bench-collections-"))
    try:
        (tree / "ansible_collections" / "certops").mkdir(parents=True)
        (tree / "ansible_collections" / "certops" / "aws").symlink_to(checkout.resolve())
        yield tree
    finally:
        shutil.rmtree(tree, ignore_errors=True)


# -- the machine ---------------------------------------------------------------------------------------------------
def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        memory_kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": {
            name: _version(name) for name in ("ansible-core", "boto3", "botocore", "cryptography", "moto", "matplotlib")
        },
    }


# -- other load on the machine -------------------------------------------------------------------------------------
def _busy_seconds() -> float:
    """CPU time all processes of the machine have used since boot, in seconds (idle and iowait left out)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(value) for value in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    # guest time is already counted in user time
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    """CPU time of this process and of every child it has waited for (ansible, the meter, the CLI...)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


class ForeignLoad:
    """How much CPU other processes used while a measurement ran: they compete for the same cores.

    with ForeignLoad() as load: ...   then load.cores: the average number of cores others kept busy.
    """

    def __enter__(self) -> ForeignLoad:
        self._wall, self._busy, self._own = time.perf_counter(), _busy_seconds(), _own_seconds()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.seconds = time.perf_counter() - self._wall
        foreign = (_busy_seconds() - self._busy) - (_own_seconds() - self._own)
        self.cores = max(foreign, 0.0) / self.seconds if self.seconds else 0.0


# Other processes busier than this (in cores) while a target size was measured: it is measured again, at most
# MAX_ATTEMPTS times in all, and the quietest attempt reported (every attempt is kept in the results).
QUIET_CORES = 0.25
MAX_ATTEMPTS = 2


def quietest(
    measure: Callable[[], dict[str, Any]], what: str, log: Callable[[str], None], again: bool = True
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """measure() (whose result has foreign_cores), again while others were busy, when `again`: the quietest
    attempt, and every attempt."""
    attempts = [measure()]
    while again and attempts[-1]["foreign_cores"] > QUIET_CORES and len(attempts) < MAX_ATTEMPTS:
        log(f"  others used {attempts[-1]['foreign_cores']:.2f} cores meanwhile: measuring {what} again")
        attempts.append(measure())
    return min(attempts, key=lambda attempt: attempt["foreign_cores"]), attempts


# -- running a command, measured -----------------------------------------------------------------------------------
@dataclass
class Metered:
    returncode: int
    stdout: str
    stderr: str
    measured: dict[str, Any] | None  # the meter's figures (seconds, cpu_seconds, maxrss_kb), None if it did not run


def run_metered(argv: list[str], env: dict[str, str], result: Path, cwd: Path | None = None) -> Metered:
    """Run argv through meter.py (see there why a launcher), its output to files, not pipes (a large result must
    not block the child)."""
    result.unlink(missing_ok=True)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        returncode = subprocess.run(
            [PYTHON, "-I", "-S", str(METER), str(result), *argv],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            check=False,
        ).returncode
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    measured = json.loads(result.read_text()) if result.exists() else None
    result.unlink(missing_ok=True)
    return Metered(returncode, stdout, stderr, measured)


# -- statistics ----------------------------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def median_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """A distribution-free confidence interval of the median: order statistics and the binomial distribution.

    With n values, the median lies between the k-th smallest and the k-th largest with probability
    1 - 2 * P(Binomial(n, 1/2) < k); the largest k that keeps this at `confidence` or more is used.
    """
    ordered = sorted(values)
    n = len(ordered)
    k, below = 0, 0.0
    while k < n // 2:
        next_below = below + math.comb(n, k) / 2**n  # P(Binomial(n, 1/2) <= k)
        if 1 - 2 * next_below < confidence:
            break
        below, k = next_below, k + 1
    if k == 0:  # too few values for that confidence: the whole range
        return ordered[0], ordered[-1]
    return ordered[k - 1], ordered[n - k]


def spread(values: Sequence[float]) -> tuple[float, float]:
    """(min, max): shown next to medians so a reader sees the noise."""
    return (min(values), max(values)) if values else (float("nan"), float("nan"))
