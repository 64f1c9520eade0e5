"""Section e: rotating many users in one run, through the role as a user runs it, against a concurrent script.

Users `user0000`… each hold one active certificate that expires in OLD_DAYS days, so with the role's default
threshold (30 days) every user is due. Two ways of rotating all of them to a new certificate each (valid for a
year), every request through the same LoopbackProxy with the same added latency:
- the collection's playbook as a user runs it, `ansible-playbook certops.aws.rotate_signing_certificates
  -e @rotations.json` (`rotations: [{user, certificate_file}]` with relative paths, `iam_endpoint_url`), which
  includes the role `certops.aws.signing_certificate_rotation` with its list form; timed whole, start to exit;
- `tests/benchmarks/fleet_script.py`, a boto3 script making the same calls with the same bound of 8 users at a
  time, timed whole (a process of its own, as a user runs it) and for its calls alone.
Before every run the emulator is emptied and the users are seeded again straight to moto (not through the proxy,
not timed), and after it the benchmark reads every user back from moto: the new certificate active, the old one
inactive.

The proxy replays nothing here (REPLAYED is empty): every listing but the first of each user comes after a write to
that user, and a recorded answer would be the one from before the write (the module's verification would then fail,
or pass on stale data). moto computes every answer, on the same cores as Ansible and the module; its CPU per request
is measured and reported.

A timing callback (callback_plugins/certops_bench_timing.py) records when each task started, and the module runs
under a two-line bash wrapper as its interpreter that notes when its process starts (bash's $EPOCHREALTIME, no extra
process) and execs the venv's python. With the proxy's log of requests, each run splits into Ansible's start-up, the
tasks, and, inside the rotation task: the controller's part until the module's process starts (templating the
arguments, packing the module), the module's start until its first request, the requests, and the time after the
last one.
"""

from __future__ import annotations

import functools
import json
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.benchmarks.common import (
    HERE,
    PYTHON,
    REPO,
    ForeignLoad,
    clean_environ,
    iam_client,
    median,
    quietest,
    reset_moto,
    run_metered,
)
from tools import harness
from tools.loopback_proxy import LoopbackProxy

# The collection's playbook (playbooks/rotate_signing_certificates.yml), run by its name as the guides say.
PLAYBOOK = "certops.aws.rotate_signing_certificates"
CALLBACKS = HERE / "callback_plugins"
ROTATION_ACTION = "certops.aws.iam_signing_certificate_rotation"
MAX_CONCURRENCY = 8  # the role's default, and the script's bound
OLD_DAYS = 5  # the certificate each user holds: due under the default threshold of 30 days
NEW_DAYS = 365
REPLAYED: frozenset[str] = frozenset()  # see the module docstring: nothing is replayed on the write path
TARGET_USERS = 100
TARGET_SECONDS = 30.0
GOAL_SECONDS = 15.0
# The phases of a playbook run that are not tasks of their own.
STARTUP = "Ansible start-up (until the first task)"
BEFORE_REQUESTS = "rotation task: before the first request"  # when the module's start is not known
BEFORE_MODULE = "rotation task: until the module's process starts"
MODULE_START = "rotation task: the module's start, until its first request"
REQUESTS = "rotation task: the requests (first to last)"
AFTER_REQUESTS = "rotation task: after the last request"
EXIT = "end of the play and exit"


def user_name(number: int) -> str:
    return f"user{number:04d}"


def expected_actions(users: int) -> dict[str, int]:
    """The calls of a rotation of `users` users that each hold one due certificate: read, upload, verify, retire."""
    return {"ListSigningCertificates": 2 * users, "UploadSigningCertificate": users, "UpdateSigningCertificate": users}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _fingerprint(pem: str) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    return x509.load_pem_x509_certificate(pem.encode()).fingerprint(hashes.SHA256()).hex()


class Fleet:
    """The users' certificates, the files the playbook reads, and the runs against one moto server."""

    def __init__(self, moto: str, collections: Path, users: int) -> None:
        from tools.certs import make_certificate

        self.moto = moto
        self.work = Path(tempfile.mkdtemp(prefix="certops-bench-fleet-"))
        (self.work / "certs").mkdir()
        self.old = [make_certificate(f"{user_name(n)}-old", days=OLD_DAYS) for n in range(users)]
        self.new = [make_certificate(f"{user_name(n)}-new", days=NEW_DAYS) for n in range(users)]
        self.new_fingerprints = [_fingerprint(pem) for pem in self.new]
        for number, pem in enumerate(self.new):
            (self.work / "certs" / f"{user_name(number)}.pem").write_text(pem)
        self.timing = self.work / "timing.json"
        self.module_starts = self.work / "module-starts.txt"
        # The module's interpreter: notes when the process starts, then becomes the venv's python (exec). Extra
        # vars are the one setting that wins for the implicit localhost, as in adhoc.py.
        self.interpreter: Path | None = None
        if Path("/bin/bash").is_file():
            self.interpreter = self.work / "python-stamped"
            self.interpreter.write_text(
                f'#!/bin/bash\necho "$EPOCHREALTIME" >> "{self.module_starts}"\nexec "{PYTHON}" "$@"\n'
            )
            self.interpreter.chmod(0o755)
        self.env = {
            # Dummy credentials, no ~/.aws, an empty ansible.cfg and ANSIBLE_HOME of its own, the venv's python.
            **harness.ansible_environment(self.work / "ansible-home", collections),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS),
            "ANSIBLE_CALLBACKS_ENABLED": "certops_bench_timing",
            "CERTOPS_BENCH_TIMING": str(self.timing),
        }
        self.script_env = clean_environ(PYTHONPATH=str(REPO))

    def close(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)

    # -- the users on the server ---------------------------------------------------------------------------------
    def seed(self, users: int) -> None:
        """An empty emulator, then users 0..users-1 with their old certificate, straight to moto."""
        reset_moto(self.moto)
        client = iam_client(self.moto)
        for number in range(users):
            client.create_user(UserName=user_name(number))
            client.upload_signing_certificate(UserName=user_name(number), CertificateBody=self.old[number])

    def check(self, users: int, who: str) -> None:
        """Every user rotated: the new certificate active, the old one inactive, nothing else (read from moto)."""
        client = iam_client(self.moto)
        wrong = []
        for number in range(users):
            listed = client.list_signing_certificates(UserName=user_name(number))["Certificates"]
            statuses = sorted((_fingerprint(c["CertificateBody"]), c["Status"]) for c in listed)
            wanted = sorted([(_fingerprint(self.old[number]), "Inactive"), (self.new_fingerprints[number], "Active")])
            if statuses != wanted:
                wrong.append(user_name(number))
        if wrong:
            raise RuntimeError(f"{who} left {len(wrong)} of {users} users not rotated, e.g. {wrong[:5]}")

    def rotations_file(self, users: int, endpoint: str) -> Path:
        path = self.work / f"rotations-{users}.json"
        rotations = [
            {"user": user_name(number), "certificate_file": f"certs/{user_name(number)}.pem"} for number in range(users)
        ]
        path.write_text(json.dumps({"rotations": rotations, "iam_endpoint_url": endpoint}))
        return path

    # -- one run -------------------------------------------------------------------------------------------------
    def _metered(self, argv: list[str], env: dict[str, str], proxy: LoopbackProxy) -> dict[str, Any]:
        """Run argv in the work directory through the meter; its figures, its output, and the proxy's view."""
        proxy.reset_stats()
        emulator_started = _cpu_seconds()
        with ForeignLoad() as load:
            epoch, monotonic = time.time(), time.monotonic()
            done = run_metered(argv, env, self.work / "meter.json", cwd=self.work)
        measured = done.measured
        if done.returncode != 0 or measured is None:
            raise RuntimeError(
                f"{' '.join(argv)} failed (rc {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        log = sorted(proxy.log, key=lambda entry: entry.started)
        requests = {
            "requests": proxy.requests,
            "actions": dict(sorted(proxy.actions().items(), key=lambda item: str(item[0]))),
            "peak_in_flight": proxy.peak_in_flight,
            "statuses": sorted({entry.status for entry in log}),
            # seconds since the command started, and the mean time a request spent in the proxy (latency included)
            "first_request": log[0].started - monotonic if log else None,
            "last_request_end": max(entry.started + entry.seconds for entry in log) - monotonic if log else None,
            "mean_request_seconds": sum(entry.seconds for entry in log) / len(log) if log else None,
        }
        return {
            "seconds": measured["seconds"],
            "cpu_seconds": measured["cpu_seconds"],
            "maxrss_kb": measured["maxrss_kb"],
            "emulator_cpu_seconds": _cpu_seconds() - emulator_started,
            "foreign_cores": load.cores,
            "epoch": epoch,
            "stdout": done.stdout,
            **requests,
        }

    def role_run(self, proxy: LoopbackProxy, users: int) -> dict[str, Any]:
        rotations = self.rotations_file(users, proxy.url)
        self.timing.unlink(missing_ok=True)
        self.module_starts.unlink(missing_ok=True)
        argv = [str(harness.BIN / "ansible-playbook"), PLAYBOOK, "-e", f"@{rotations.name}"]
        if self.interpreter is not None:
            argv += ["-e", json.dumps({"ansible_python_interpreter": str(self.interpreter)})]
        run = self._metered(argv, self.env, proxy)
        del run["stdout"]
        starts = self.module_starts.read_text().split() if self.module_starts.exists() else []
        run["module_starts"] = [float(start) - run["epoch"] for start in starts if start]
        run["phases"] = _phases(json.loads(self.timing.read_text()), run)
        self.check(users, "the role")
        return run

    def script_run(self, proxy: LoopbackProxy, users: int) -> dict[str, Any]:
        rotations = self.rotations_file(users, proxy.url)
        argv = [PYTHON, "-m", "tests.benchmarks.fleet_script", proxy.url, rotations.name, str(MAX_CONCURRENCY)]
        run = self._metered(argv, self.script_env, proxy)
        reported = json.loads(run.pop("stdout").strip().splitlines()[-1])
        run["calls_seconds"] = reported["seconds"]
        self.check(users, "the script")
        return run


def _phases(timing: dict[str, Any], run: dict[str, Any]) -> list[dict[str, Any]]:
    """The run split in consecutive phases, in seconds: start-up, each task (the rotation task in three: before
    the first request, the requests, after the last request), then the exit. They add up to the whole run."""
    epoch = run["epoch"]
    tasks = timing["tasks"]
    phases = [{"phase": STARTUP, "action": None, "seconds": tasks[0]["start"] - epoch}]
    for task in tasks:
        if task["action"] == ROTATION_ACTION and run["first_request"] is not None:
            start, end = task["start"] - epoch, task["end"] - epoch
            module = [t for t in run.get("module_starts", []) if start <= t <= run["first_request"]]
            if len(module) == 1:
                phases += [
                    {"phase": BEFORE_MODULE, "action": ROTATION_ACTION, "seconds": module[0] - start},
                    {"phase": MODULE_START, "action": ROTATION_ACTION, "seconds": run["first_request"] - module[0]},
                ]
            else:
                phases.append(
                    {"phase": BEFORE_REQUESTS, "action": ROTATION_ACTION, "seconds": run["first_request"] - start}
                )
            phases += [
                {
                    "phase": REQUESTS,
                    "action": ROTATION_ACTION,
                    "seconds": run["last_request_end"] - run["first_request"],
                },
                {"phase": AFTER_REQUESTS, "action": ROTATION_ACTION, "seconds": end - run["last_request_end"]},
            ]
        else:
            phases.append(
                {"phase": _task_label(task), "action": task["action"], "seconds": task["end"] - task["start"]}
            )
    phases.append({"phase": EXIT, "action": None, "seconds": run["seconds"] - (tasks[-1]["end"] - epoch)})
    return phases


def _task_label(task: dict[str, Any]) -> str:
    """A task's name, shorter: the role's prefix as `role:`, Ansible's own argument-spec task by what it does."""
    name = task["task"]
    role, _separator, rest = name.partition(" : ")
    if rest and role == "certops.aws.signing_certificate_rotation":
        name = f"role: {rest}"
    if "Validating arguments against arg spec" in name:
        name = "role: argument spec validation (Ansible's own task)"
    return name


# -- the measurement -----------------------------------------------------------------------------------------------
def _summary(runs: list[dict[str, Any]], users: int) -> dict[str, Any]:
    requests = runs[0]["requests"]
    summary = {
        "runs": runs,
        "median_seconds": median([run["seconds"] for run in runs]),
        "median_cpu_seconds": median([run["cpu_seconds"] for run in runs]),
        "requests": requests,
        "actions": runs[0]["actions"],
        "actions_as_expected": all(run["actions"] == expected_actions(users) for run in runs),
        "peak_in_flight": max(run["peak_in_flight"] for run in runs),
        "median_first_request": median([run["first_request"] for run in runs]),
        "median_request_span": median([run["last_request_end"] - run["first_request"] for run in runs]),
        "median_mean_request_ms": median([run["mean_request_seconds"] * 1000 for run in runs]),
        "emulator_cpu_ms_per_request": median([run["emulator_cpu_seconds"] for run in runs]) / requests * 1000,
        "median_foreign_cores": median([run["foreign_cores"] for run in runs]),
    }
    if "phases" in runs[0]:
        summary["median_phases"] = [
            {
                "phase": phase["phase"],
                "action": phase["action"],
                "seconds": median(
                    [p["seconds"] for run in runs for p in run["phases"] if p["phase"] == phase["phase"]]
                ),
            }
            for phase in runs[0]["phases"]
        ]
    if "calls_seconds" in runs[0]:
        summary["median_calls_seconds"] = median([run["calls_seconds"] for run in runs])
    return summary


def _size(fleet: Fleet, proxy: LoopbackProxy, users: int, repeats: int) -> dict[str, Any]:
    """The role and the script, alternated, `repeats` runs of each, every run on freshly seeded users."""
    role, script = [], []
    with ForeignLoad() as load:
        for _repeat in range(repeats):
            fleet.seed(users)
            role.append(fleet.role_run(proxy, users))
            fleet.seed(users)
            script.append(fleet.script_run(proxy, users))
    return {
        "users": users,
        "role": _summary(role, users),
        "script": _summary(script, users),
        "expected_actions": expected_actions(users),
        "round_trips_seconds": sum(expected_actions(users).values()) * proxy.latency / MAX_CONCURRENCY,
        "foreign_cores": load.cores,
    }


def measure(
    moto: str,
    collections: Path,
    *,
    sizes: list[int],
    repeats: int,
    target_repeats: int,
    latency: float,
    log: Callable[[str], None],
) -> dict[str, Any]:
    target = TARGET_USERS if TARGET_USERS in sizes else max(sizes)
    results: dict[str, Any] = {
        "latency_ms": latency * 1000,
        "max_concurrency": MAX_CONCURRENCY,
        "old_days": OLD_DAYS,
        "new_days": NEW_DAYS,
        "threshold_days": 30,
        "playbook": PLAYBOOK,
        "repeats": repeats,
        "target_size": target,
        "target_repeats": target_repeats,
        "target_seconds": TARGET_SECONDS,
        "goal_seconds": GOAL_SECONDS,
        "replay_actions": sorted(REPLAYED),
        "sizes": {},
    }
    fleet = Fleet(moto, collections, max(sizes))
    try:
        with LoopbackProxy(moto, latency=latency) as proxy:
            proxy.replay_actions = REPLAYED
            smallest = min(sizes)
            log(f"fleet: warm-up, {smallest} users (not counted)")
            fleet.seed(smallest)
            fleet.role_run(proxy, smallest)
            fleet.seed(smallest)
            fleet.script_run(proxy, smallest)
            for users in sorted(sizes):
                runs = target_repeats if users == target else repeats
                # At the target size, measured again while others were busy (common.quietest).
                entry, attempts = quietest(
                    functools.partial(_size, fleet, proxy, users, runs), f"{users} users", log, again=users == target
                )
                entry["attempts"] = [
                    {
                        "role_median_seconds": attempt["role"]["median_seconds"],
                        "script_median_seconds": attempt["script"]["median_seconds"],
                        "foreign_cores": attempt["foreign_cores"],
                    }
                    for attempt in attempts
                ]
                role, script = entry["role"], entry["script"]
                log(
                    f"fleet {users} users: role {role['median_seconds']:.2f} s (requests "
                    f"{role['median_request_span']:.2f} s, {role['requests']} requests, "
                    f"peak {role['peak_in_flight']}), "
                    f"script {script['median_seconds']:.2f} s (calls {script['median_calls_seconds']:.2f} s, "
                    f"peak {script['peak_in_flight']}), others' load {entry['foreign_cores']:.2f} cores"
                )
                results["sizes"][str(users)] = entry
    finally:
        fleet.close()
    return results
