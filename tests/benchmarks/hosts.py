"""Section f: the host role `certops.aws.host_signing_certificate` on many local hosts, against a floor playbook.

Issue 18 set the role's cost per host against the least a check of a host needs. Per host count (1, 16 and 100 by
default), with `ansible-playbook -f 20` on an inventory of local hosts (`ansible_connection: local`, a signing
directory and an IAM user each), four runs are measured, each after the state it needs was set up:
- the floor (`tests/benchmarks/host_floor.yml`): `community.crypto.x509_certificate_info` of the host's certificate
  on the host, `certops.aws.iam_signing_certificate_info` of its user delegated to localhost;
- the role where no host is due (after a first run): what every scheduled run of a fleet costs;
- the role provisioning: a first run, no pair on any host;
- the role rotating: `-e host_signing_certificate_force=true` on hosts that hold a pair.
The role runs through the collection's example playbook (`docs/examples/host_signing_certificates.yml` of the
checkout measured), as a user runs it. One repeat sets up fresh users and empty directories, provisions, runs the
floor and the no-op (alternating which goes first, so neither always follows the other), then rotates; every run is
checked afterwards with plain boto3 and the files (each host holds a key and certificate that match, its
certificate Active in IAM and the user's only Active one; unchanged after the floor and the no-op, new after the
rotation). A run that fails, or a check that does not hold, stops the benchmark: a figure of a failing run would
be worthless.

What a run costs is counted two ways. The whole run: wall time and CPU (user + system) of the `ansible-playbook`
process tree, from `os.wait4` in the meter (common.run_metered), so the moto server in this process is not counted.
Each module execution: the hosts' interpreter (`-e ansible_python_interpreter=`, the one setting that wins) is a bash
wrapper that runs the module's Python under GNU time, which appends `user system AnsiballZ_<module>.py` to a log. The
CPU per host splits into each module's share and the controller's (the whole tree minus the modules: Ansible's
start-up, templating, a worker per task and host, packing each module, the action plugins, the wrapper and GNU time
themselves); the play recap gives the tasks each host ran (ok or skipped), which that part grows with.

Optionally the same at 16 hosts for the role of another commit of this repository (`git archive` of it, measured as
the collection): before and after issue 18 side by side, on the same machine in the same run.
"""

from __future__ import annotations

import io
import json
import re
import resource
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.benchmarks.common import HERE, REPO, ForeignLoad, iam_client, median, reset_moto, run_metered
from tools import harness

FORKS = 20
ROLE_PLAYBOOK = Path("docs/examples/host_signing_certificates.yml")  # inside the checkout measured
FLOOR_PLAYBOOK = HERE / "host_floor.yml"
GNU_TIME = Path("/usr/bin/time")
CASES = ("floor", "noop", "provision", "rotation")
CASE_LABELS = {
    "floor": "floor playbook",
    "noop": "role, no host due",
    "provision": "role, first run (provisioning)",
    "rotation": "role, forced rotation",
}
# Repeats of each case when not given: small sizes vary more from run to run and cost little.
REPEATS_SMALL, REPEATS_LARGE, SMALL_UP_TO = 3, 1, 16
BEFORE_HOSTS = 16
# Issue 18's targets. The rotation's 3 s was set on a machine where the floor cost FLOOR_CPU_WHEN_SET per host,
# so it is judged relative to the floor measured in the same run as well.
NOOP_RATIO_TARGET = 1.5
ROTATION_EXECUTIONS_TARGET = 12
ROTATION_CPU_TARGET = 3.0
FLOOR_CPU_WHEN_SET = 0.8
ROTATION_CPU_RATIO_TARGET = ROTATION_CPU_TARGET / FLOOR_CPU_WHEN_SET
_RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M)


def host_name(number: int) -> str:
    return f"host{number:03d}"


def user_name(number: int) -> str:
    return f"signer{number:03d}"


def module_name(script: str) -> str:
    """`AnsiballZ_x509_certificate_info.py` → `x509_certificate_info`."""
    return script.removeprefix("AnsiballZ_").removesuffix(".py")


def _own_cpu_seconds() -> float:
    """This process's CPU: the moto server's threads answering the run's requests."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def describe_commit(ref: str) -> dict[str, str]:
    """A commit of this repository by any git ref: its full id and subject. Resolved before anything is measured,
    so that a mistyped ref fails at once, not after half an hour of runs."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except subprocess.CalledProcessError:
        raise RuntimeError(f"{ref!r} is not a commit of {REPO}") from None
    return {"ref": ref, "commit": commit, "subject": git("log", "-1", "--format=%s", commit)}


def export_commit(commit: str, destination: Path) -> None:
    """`git archive` of a commit of this repository, extracted into `destination`: another version of the
    collection to measure, without touching any worktree."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(destination, filter="data")


class HostFleet:
    """N local hosts, their IAM users on the moto server, and measured `ansible-playbook` runs on them.

    The collection measured is `checkout` (through a temporary ansible_collections/certops/aws symlink), beside the
    dependency collections (community.crypto) of the venv.
    """

    def __init__(self, moto: str, checkout: Path) -> None:
        if not GNU_TIME.is_file():
            raise RuntimeError(f"section hosts counts each module run with GNU time, and {GNU_TIME} is missing")
        self.moto = moto
        self.checkout = checkout.resolve()
        self.playbook = self.checkout / ROLE_PLAYBOOK
        if not self.playbook.is_file():
            raise RuntimeError(f"{self.playbook} is missing: the role is measured through the example playbook")
        self.work = Path(tempfile.mkdtemp(prefix="certops-bench-hosts-"))
        tree = self.work / "collections"
        (tree / "ansible_collections" / "certops").mkdir(parents=True)
        (tree / "ansible_collections" / "certops" / "aws").symlink_to(self.checkout)
        self.env = {
            # Dummy credentials, no ~/.aws, an empty ansible.cfg and an ANSIBLE_HOME of its own.
            **harness.ansible_environment(self.work / "ansible-home"),
            "ANSIBLE_COLLECTIONS_PATH": f"{tree}:{harness.dependency_collections()}",
            "ANSIBLE_NOCOLOR": "1",
        }
        self.module_log = self.work / "modules.log"
        # Every module run, its CPU and its name: GNU time appends one short line per run (O_APPEND: the lines of
        # 20 forks do not mix). ${1##*/} is the AnsiballZ file's name, without starting another process.
        self.interpreter = self.work / "python-timed"
        self.interpreter.write_text(
            "#!/bin/bash\n"
            f'exec {GNU_TIME} -a -o "{self.module_log}" -f "%U %S ${{1##*/}}" "{harness.target_python()}" "$@"\n'
        )
        self.interpreter.chmod(0o755)
        self.hosts = 0
        self.inventory = self.work / "inventory.json"

    def close(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)

    def host_dir(self, number: int) -> Path:
        return self.work / "hosts" / host_name(number)

    # -- the state before a run ----------------------------------------------------------------------------------
    def fresh(self, hosts: int) -> None:
        """An empty emulator with one IAM user per host, no signing directory on any host, and the inventory."""
        reset_moto(self.moto)
        client = iam_client(self.moto)
        for number in range(hosts):
            client.create_user(UserName=user_name(number))
        shutil.rmtree(self.work / "hosts", ignore_errors=True)
        (self.work / "hosts").mkdir()
        self.hosts = hosts
        members = {
            host_name(number): {
                "ansible_connection": "local",
                "host_signing_certificate_user_name": user_name(number),
                "host_signing_certificate_dir": str(self.host_dir(number)),
            }
            for number in range(hosts)
        }
        self.inventory.write_text(json.dumps({"signing_hosts": {"hosts": members}}, indent=1))

    # -- one run -------------------------------------------------------------------------------------------------
    def run(self, case: str, before: list[str] | None) -> tuple[dict[str, Any], list[str]]:
        """One measured run of `case` on the current hosts, then checked. `before`: each host's certificate
        fingerprint before the run (None when no host holds a pair). Returns the figures and the fingerprints after."""
        playbook = FLOOR_PLAYBOOK if case == "floor" else self.playbook
        argv = [
            str(harness.BIN / "ansible-playbook"),
            "-i",
            str(self.inventory),
            "-f",
            str(FORKS),
            "-e",
            f"iam_endpoint_url={self.moto}",
            "-e",
            f"ansible_python_interpreter={self.interpreter}",
        ]
        if case == "rotation":
            argv += ["-e", "host_signing_certificate_force=true"]
        argv.append(str(playbook))
        self.module_log.unlink(missing_ok=True)
        emulator = _own_cpu_seconds()
        with ForeignLoad() as load:
            done = run_metered(argv, self.env, self.work / "meter.json", cwd=self.work)
        emulator = _own_cpu_seconds() - emulator
        if done.returncode != 0 or done.measured is None:
            raise RuntimeError(
                f"{case} on {self.hosts} hosts failed (rc {done.returncode}): {' '.join(argv)}\n"
                f"{done.stdout[-4000:]}\n{done.stderr[-3000:]}"
            )
        changed, tasks = self._recap(done.stdout, case)
        after = self.check(case, before)
        modules = self._modules(case)
        module_cpu = sum(entry["cpu_seconds"] for entry in modules.values())
        executions = sum(entry["executions"] for entry in modules.values())
        return {
            "seconds": done.measured["seconds"],
            "cpu_seconds": done.measured["cpu_seconds"],
            "maxrss_kb": done.measured["maxrss_kb"],
            "module_cpu_seconds": module_cpu,
            "controller_cpu_seconds": done.measured["cpu_seconds"] - module_cpu,
            "executions": executions,
            "modules": modules,
            "hosts_changed": changed,
            "tasks": tasks,
            "emulator_cpu_seconds": emulator,
            "foreign_cores": load.cores,
        }, after

    def _recap(self, stdout: str, case: str) -> tuple[int, int]:
        """Every host in the play recap, none failed or unreachable; nothing changed by the floor or the no-op,
        something on every host by a first run or a rotation. Returns how many hosts changed, and the tasks run
        for all hosts (ok or skipped: a skipped task still costs a worker on the controller)."""
        recap = {match[1]: [int(value) for value in match.groups()[1:]] for match in _RECAP.finditer(stdout)}
        problems = []
        for number in range(self.hosts):
            ok, changed, unreachable, failed, _skipped = recap.get(host_name(number), [0, 0, 1, 1, 0])
            if host_name(number) not in recap or unreachable or failed or not ok:
                problems.append(f"{host_name(number)}: not in the recap, failed or unreachable")
            elif case in ("floor", "noop") and changed:
                problems.append(f"{host_name(number)}: changed {changed} in a run that should change nothing")
            elif case in ("provision", "rotation") and not changed:
                problems.append(f"{host_name(number)}: nothing changed in a run that should change it")
        if problems:
            raise RuntimeError(f"{case} on {self.hosts} hosts: {'; '.join(problems[:5])}\n{stdout[-4000:]}")
        counts = [recap[host_name(number)] for number in range(self.hosts)]
        return sum(1 for count in counts if count[1]), sum(count[0] + count[4] for count in counts)

    def _modules(self, case: str) -> dict[str, dict[str, Any]]:
        """Executions and CPU of each module in the run, from GNU time's log."""
        modules: dict[str, dict[str, Any]] = {}
        lines = self.module_log.read_text().splitlines() if self.module_log.exists() else []
        for line in lines:
            fields = line.split()
            # GNU time writes a "Command exited with non-zero status" line before a failed module's figures.
            if len(fields) != 3 or not fields[2].startswith("AnsiballZ_"):
                continue
            entry = modules.setdefault(module_name(fields[2]), {"executions": 0, "cpu_seconds": 0.0})
            entry["executions"] += 1
            entry["cpu_seconds"] += float(fields[0]) + float(fields[1])
        if case == "floor" and sum(entry["executions"] for entry in modules.values()) != 2 * self.hosts:
            # Two modules per host, exactly: otherwise the wrapper did not see every module run.
            raise RuntimeError(f"the floor on {self.hosts} hosts logged {modules}, not 2 module runs per host")
        if not modules:
            raise RuntimeError(f"{case} on {self.hosts} hosts: no module run was logged in {self.module_log}")
        return dict(sorted(modules.items()))

    # -- the check after a run -----------------------------------------------------------------------------------
    def check(self, case: str, before: list[str] | None) -> list[str]:
        """Read every host's pair from its files and its user's certificates from moto with plain boto3: the key
        and certificate match, the certificate is listed as Active and is the user's only Active one; unchanged
        after the floor and the no-op, a new one after the rotation. Returns each host's certificate fingerprint."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization

        def public(key: Any) -> bytes:
            return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

        client = iam_client(self.moto)
        fingerprints, problems = [], []
        for number in range(self.hosts):
            where = f"{host_name(number)} ({user_name(number)})"
            directory = self.host_dir(number)
            try:
                certificate = x509.load_pem_x509_certificate((directory / "signing.pem").read_bytes())
                key = serialization.load_pem_private_key((directory / "signing.key").read_bytes(), password=None)
            except (OSError, ValueError) as error:
                problems.append(f"{where}: no readable pair ({error})")
                fingerprints.append("")
                continue
            fingerprint = certificate.fingerprint(hashes.SHA256()).hex()
            fingerprints.append(fingerprint)
            if public(key.public_key()) != public(certificate.public_key()):
                problems.append(f"{where}: signing.key does not belong to signing.pem")
            listed = client.list_signing_certificates(UserName=user_name(number))["Certificates"]
            statuses = {
                x509.load_pem_x509_certificate(entry["CertificateBody"].encode())
                .fingerprint(hashes.SHA256())
                .hex(): entry["Status"]
                for entry in listed
            }
            active = [found for found, status in statuses.items() if status == "Active"]
            if statuses.get(fingerprint) != "Active":
                problems.append(f"{where}: its certificate is {statuses.get(fingerprint, 'not listed')} in IAM")
            elif len(active) != 1:
                problems.append(f"{where}: {len(active)} Active certificates in IAM")
            if before is not None and case in ("floor", "noop") and fingerprint != before[number]:
                problems.append(f"{where}: its certificate changed in a run that should change nothing")
            if before is not None and case == "rotation" and fingerprint == before[number]:
                problems.append(f"{where}: still the certificate from before the forced rotation")
        if problems:
            raise RuntimeError(f"after {case} on {self.hosts} hosts: {'; '.join(problems[:5])}")
        return fingerprints


# -- the measurement -----------------------------------------------------------------------------------------------
def _summary(runs: list[dict[str, Any]], hosts: int) -> dict[str, Any]:
    """Medians of the runs of one case, per run and per host, and each module's share per host."""
    names = sorted({name for run in runs for name in run["modules"]})

    def per_host(values: list[float]) -> float:
        return median(values) / hosts

    return {
        "runs": runs,
        "median_seconds": median([run["seconds"] for run in runs]),
        "median_cpu_seconds": median([run["cpu_seconds"] for run in runs]),
        "cpu_per_host": per_host([run["cpu_seconds"] for run in runs]),
        "module_cpu_per_host": per_host([run["module_cpu_seconds"] for run in runs]),
        "controller_cpu_per_host": per_host([run["controller_cpu_seconds"] for run in runs]),
        "executions_per_host": per_host([run["executions"] for run in runs]),
        "tasks_per_host": per_host([run["tasks"] for run in runs]),
        "modules": {
            name: {
                "executions_per_host": per_host([run["modules"].get(name, {}).get("executions", 0) for run in runs]),
                "cpu_per_host": per_host([run["modules"].get(name, {}).get("cpu_seconds", 0.0) for run in runs]),
            }
            for name in names
        },
        "median_maxrss_kb": median([run["maxrss_kb"] for run in runs]),
        "emulator_cpu_per_host": per_host([run["emulator_cpu_seconds"] for run in runs]),
        "median_foreign_cores": median([run["foreign_cores"] for run in runs]),
    }


def _size(fleet: HostFleet, hosts: int, repeats: int, log: Callable[[str], None], label: str = "") -> dict[str, Any]:
    """`repeats` rounds on `hosts` hosts, each from fresh users: provision, floor and no-op (alternating which
    first), rotation."""
    runs: dict[str, list[dict[str, Any]]] = {case: [] for case in CASES}
    with ForeignLoad() as load:
        for repeat in range(repeats):
            fleet.fresh(hosts)
            figures, pairs = fleet.run("provision", None)
            runs["provision"].append(figures)
            for case in ("floor", "noop") if repeat % 2 == 0 else ("noop", "floor"):
                figures, pairs = fleet.run(case, pairs)
                runs[case].append(figures)
            figures, pairs = fleet.run("rotation", pairs)
            runs["rotation"].append(figures)
            log(
                f"hosts{label} {hosts}, round {repeat + 1}/{repeats}: "
                + ", ".join(
                    f"{case} {runs[case][-1]['seconds']:.1f} s {runs[case][-1]['cpu_seconds'] / hosts:.2f} s/host "
                    f"{runs[case][-1]['executions'] / hosts:.1f} runs/host"
                    for case in CASES
                )
            )
    cases = {case: _summary(runs[case], hosts) for case in CASES}
    floor = cases["floor"]
    return {
        "hosts": hosts,
        "repeats": repeats,
        "cases": cases,
        "ratio_to_floor": {
            case: {
                "seconds": cases[case]["median_seconds"] / floor["median_seconds"],
                "cpu_per_host": cases[case]["cpu_per_host"] / floor["cpu_per_host"],
            }
            for case in CASES
        },
        "foreign_cores": load.cores,
    }


def repeats_for(hosts: int, repeats: int | None) -> int:
    if repeats is not None:
        return repeats
    return REPEATS_SMALL if hosts <= SMALL_UP_TO else REPEATS_LARGE


def measure(
    moto: str,
    checkout: Path,
    *,
    sizes: list[int],
    repeats: int | None,
    before: str | None,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Every size with the role of `checkout`, then, with `before` (a git ref), the role of that commit at 16 hosts
    (or the size nearest to it). The results as written to results.json."""
    results: dict[str, Any] = {
        "forks": FORKS,
        "playbook": str(ROLE_PLAYBOOK),
        "floor_playbook": str(FLOOR_PLAYBOOK.relative_to(REPO)),
        "targets": {
            "noop_ratio": NOOP_RATIO_TARGET,
            "rotation_executions": ROTATION_EXECUTIONS_TARGET,
            "rotation_cpu_seconds": ROTATION_CPU_TARGET,
            "floor_cpu_when_set": FLOOR_CPU_WHEN_SET,
            "rotation_cpu_ratio": ROTATION_CPU_RATIO_TARGET,
        },
        "sizes": {},
    }
    commit = describe_commit(before) if before else None
    fleet = HostFleet(moto, checkout)
    try:
        smallest = min(sizes)
        log(f"hosts: warm-up, {smallest} host(s), a first run and the floor (not counted)")
        fleet.fresh(smallest)
        _figures, pairs = fleet.run("provision", None)
        fleet.run("floor", pairs)
        for hosts in sorted(sizes):
            results["sizes"][str(hosts)] = _size(fleet, hosts, repeats_for(hosts, repeats), log)
    finally:
        fleet.close()
    if commit is not None:
        size = min(sizes, key=lambda hosts: abs(hosts - BEFORE_HOSTS))
        with tempfile.TemporaryDirectory(prefix="certops-bench-before-") as exported:
            export_commit(commit["commit"], Path(exported))
            log(f"hosts: the role of {commit['commit'][:12]} ({commit['subject'][:60]}) on {size} hosts")
            fleet = HostFleet(moto, Path(exported))
            try:
                fleet.fresh(smallest)
                fleet.run("provision", None)  # warm-up of that version's files
                results["before"] = {**commit, **_size(fleet, size, repeats_for(size, repeats), log, " (before)")}
            finally:
                fleet.close()
    return results
