"""Section c: iam_signing_certificate_info with all_users over N users, through a proxy that adds a round trip.

Three ways of doing the same work (list the users, then each user's certificates), every request through the
same LoopbackProxy with the same added latency:
- the collection, ad hoc, at max_concurrency 8 (its default) and a few others; its fan-out time is net of
  Ansible's start-up: (all_users task) - (the same task for one user), both through the proxy;
- an in-process sequential boto3 loop (client built before the clock starts);
- `aws iam list-signing-certificates` per user from AWS CLI v1, in its own venv (it bundles its own botocore).

The proxy replays moto's answers to the read-only listings after a warm-up pass (REPLAYED): the 40 ms stands for
the whole round trip, IAM's own work included, so moto's CPU should not be spent on the cores the module and Ansible
need. At the target size the collection and the loop also run without replay, for comparison.
"""

from __future__ import annotations

import functools
import json
import resource
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.benchmarks.adhoc import AdHoc
from tests.benchmarks.common import (
    AWSCLI_REQUIREMENTS,
    PYTHON,
    ForeignLoad,
    awscli_venv,
    clean_environ,
    iam_client,
    median,
    quietest,
)
from tools.loopback_proxy import LoopbackProxy

INFO = "certops.aws.iam_signing_certificate_info"
# Read-only listings the proxy answers from its record after a warm-up pass, so that moto's CPU per request (which
# real IAM spends on its own servers, inside the round trip) does not compete with the module for this machine.
REPLAYED = frozenset({"ListUsers", "ListSigningCertificates"})


def user_name(number: int) -> str:
    return f"user{number:04d}"


def seed(endpoint: str, start: int, stop: int, make_certificate: Callable[[str], str]) -> None:
    """Users start..stop-1, one active certificate each, written straight to moto (not through the proxy)."""
    client = iam_client(endpoint)
    for number in range(start, stop):
        name = user_name(number)
        client.create_user(UserName=name)
        client.upload_signing_certificate(UserName=name, CertificateBody=make_certificate(name))


def sequential_loop(endpoint: str) -> tuple[float, int]:
    """The same listing as all_users, one request at a time, in this process: (seconds, certificates)."""
    client = iam_client(endpoint)
    started = time.perf_counter()
    names = [user["UserName"] for page in client.get_paginator("list_users").paginate() for user in page["Users"]]
    certificates = 0
    for name in names:
        paginator = client.get_paginator("list_signing_certificates")
        certificates += sum(len(page["Certificates"]) for page in paginator.paginate(UserName=name))
    return time.perf_counter() - started, certificates


# -- AWS CLI v1 ----------------------------------------------------------------------------------------------------
def ensure_awscli(log: Callable[[str], None]) -> tuple[Path | None, str]:
    """The `aws` of a venv of its own (AWS CLI v1 pins its own botocore): (path, version) or (None, why not)."""
    venv = awscli_venv()
    aws = venv / "bin" / "aws"
    if not aws.exists():
        log(f"installing AWS CLI v1 into {venv} from {AWSCLI_REQUIREMENTS.name}")
        steps = [
            [PYTHON, "-m", "venv", "--clear", str(venv)],
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r", str(AWSCLI_REQUIREMENTS)],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                return None, f"could not install AWS CLI v1: {' '.join(step[:4])} failed: {done.stderr.strip()[-500:]}"
    done = subprocess.run([str(aws), "--version"], capture_output=True, text=True, check=False, env=clean_environ())
    if done.returncode != 0:
        return None, f"aws --version failed: {done.stderr.strip()[-500:]}"
    return aws, (done.stdout or done.stderr).strip()


def cli_loop(aws: Path, endpoint: str) -> tuple[float, int]:
    """What a shell script would do: list the users, then one `aws` process per user, one after another."""
    env = clean_environ()

    def aws_json(*args: str) -> Any:
        argv = [str(aws), "iam", *args, "--endpoint-url", endpoint, "--output", "json"]
        done = subprocess.run(argv, capture_output=True, text=True, check=True, env=env)
        return json.loads(done.stdout)

    started = time.perf_counter()
    names = [user["UserName"] for user in aws_json("list-users")["Users"]]
    certificates = sum(
        len(aws_json("list-signing-certificates", "--user-name", name)["Certificates"]) for name in names
    )
    return time.perf_counter() - started, certificates


# -- the measurement -----------------------------------------------------------------------------------------------
def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _collection_run(adhoc: AdHoc, proxy: LoopbackProxy, args: dict[str, Any]) -> dict[str, Any]:
    proxy.reset_stats()
    # This process only serves (moto and the proxy) while ansible runs: its CPU time is the emulator's share,
    # which competes with the module for this machine's cores and real IAM would not add.
    emulator_started = _cpu_seconds()
    run = adhoc.run(INFO, args, proxy.url)
    return {
        "seconds": run.seconds,
        "cpu_seconds": run.cpu_seconds,
        "module_seconds": run.module_seconds,
        "emulator_cpu_seconds": _cpu_seconds() - emulator_started,
        "certificates": len(run.result["certificates"]),
        "requests": proxy.requests,
        "replayed": proxy.replays,
        "peak_in_flight": proxy.peak_in_flight,
    }


def _collection(adhoc: AdHoc, proxy: LoopbackProxy, size: int, repeats: int) -> dict[str, Any]:
    """all_users at the default concurrency, net of the same task for one user; the two alternate."""
    all_runs, one_runs = [], []
    with ForeignLoad() as load:
        for _repeat in range(repeats):
            all_runs.append(_collection_run(adhoc, proxy, {"all_users": True}))
            one_runs.append(_collection_run(adhoc, proxy, {"user_name": user_name(0)}))
    found = sorted({run["certificates"] for run in all_runs})
    if found != [size]:
        raise RuntimeError(f"all_users returned {found} certificates, not {size}")
    all_users = median([run["seconds"] for run in all_runs])
    one_user = median([run["seconds"] for run in one_runs])
    return {
        "concurrency": 8,
        "all_users": all_runs,
        "one_user": one_runs,
        "median_all_users_seconds": all_users,
        "median_one_user_seconds": one_user,
        "net_seconds": all_users - one_user,
        "peak_in_flight": max(run["peak_in_flight"] for run in all_runs),
        "requests": all_runs[0]["requests"],
        "replayed": all_runs[0]["replayed"],
        "foreign_cores": load.cores,
    }


def _sweep(adhoc: AdHoc, proxy: LoopbackProxy, users: int, concurrencies: list[int], repeats: int) -> list[dict]:
    """all_users at other concurrencies, each run paired with a one-user run, as at the default.

    Ansible's start-up varies by a few tenths of a second from run to run: next to a sub-second fan-out that is
    most of the signal, so the short runs (the higher concurrencies) are repeated; the long ones need it less.
    """
    results = []
    for concurrency in concurrencies:
        expected = users * proxy.latency / concurrency  # the round trips alone
        times = repeats if expected < 2 else 1
        all_runs, one_runs = [], []
        with ForeignLoad() as load:
            for _repeat in range(times):
                all_runs.append(_collection_run(adhoc, proxy, {"all_users": True, "max_concurrency": concurrency}))
                one_runs.append(_collection_run(adhoc, proxy, {"user_name": user_name(0)}))
        net = median([run["seconds"] for run in all_runs]) - median([run["seconds"] for run in one_runs])
        results.append(
            {
                "concurrency": concurrency,
                "runs": len(all_runs),
                "all_users": all_runs,
                "one_user": one_runs,
                "net_seconds": net,
                "peak_in_flight": max(run["peak_in_flight"] for run in all_runs),
                "foreign_cores": load.cores,
            }
        )
    return results


def _sequential(proxy: LoopbackProxy, repeats: int) -> dict[str, Any]:
    runs = []
    with ForeignLoad() as load:
        for _repeat in range(repeats):
            proxy.reset_stats()
            seconds, certificates = sequential_loop(proxy.url)
            runs.append({"seconds": seconds, "certificates": certificates, "requests": proxy.requests})
    return {"runs": runs, "median_seconds": median([run["seconds"] for run in runs]), "foreign_cores": load.cores}


def _warm(proxy: LoopbackProxy, latency: float) -> None:
    """Record every answer the runs will ask for (moto computes each once), then restore the latency."""
    proxy.clear_replay()
    proxy.latency = 0
    try:
        sequential_loop(proxy.url)
    finally:
        proxy.latency = latency


def measure(
    adhoc: AdHoc,
    moto: str,
    *,
    sizes: list[int],
    repeats: int,
    target_size: int,
    target_repeats: int,
    latency: float,
    cli_sizes: list[int],
    sweep: list[int],
    log: Callable[[str], None],
) -> dict[str, Any]:
    from tools.certs import make_certificate

    aws, aws_version = ensure_awscli(log) if cli_sizes else (None, "not run (no CLI sizes asked for)")
    if aws is None:
        log(f"AWS CLI: {aws_version}")
    results: dict[str, Any] = {
        "latency_ms": latency * 1000,
        "default_concurrency": 8,
        "repeats": repeats,
        "target_size": target_size,
        "target_repeats": target_repeats,
        "replay_actions": sorted(REPLAYED),
        "awscli": aws_version,
        "awscli_available": aws is not None,
        "cli_sizes": cli_sizes,
        "sizes": {},
    }
    seeded = 0
    with LoopbackProxy(moto, latency=latency) as proxy:
        for size in sorted(sizes):
            log(f"fan-out: seeding users {seeded}..{size - 1}")
            seed(moto, seeded, size, make_certificate)
            seeded = size
            proxy.replay_actions = REPLAYED
            _warm(proxy, latency)
            runs = target_repeats if size == target_size else repeats
            # At the target size, measured again while others were busy (common.quietest).
            collection, attempts = quietest(
                functools.partial(_collection, adhoc, proxy, size, runs),
                f"{size} users",
                log,
                again=size == target_size,
            )
            collection["attempts"] = [
                {"net_seconds": attempt["net_seconds"], "foreign_cores": attempt["foreign_cores"]}
                for attempt in attempts
            ]
            entry: dict[str, Any] = {"users": size, "collection": collection}
            log(
                f"fan-out {size} users: all_users {collection['median_all_users_seconds']:.2f} s, "
                f"one user {collection['median_one_user_seconds']:.2f} s, net {collection['net_seconds']:.2f} s, "
                f"peak in flight {collection['peak_in_flight']}, others' load {collection['foreign_cores']:.2f} cores"
            )
            if size == target_size:
                entry["sweep"] = _sweep(adhoc, proxy, size, sweep, repeats)
                for run in entry["sweep"]:
                    log(f"  max_concurrency {run['concurrency']}: net {run['net_seconds']:.2f} s ({run['runs']} runs)")
            # 1000 users: one sequential run is ~45 s and varies little.
            entry["sequential"] = _sequential(proxy, repeats if size <= target_size else 1)
            log(f"  sequential boto3 loop {entry['sequential']['median_seconds']:.2f} s")
            if aws is not None and size in cli_sizes:
                proxy.reset_stats()
                with ForeignLoad() as load:
                    seconds, certificates = cli_loop(aws, proxy.url)
                entry["awscli"] = {
                    "seconds": seconds,
                    "certificates": certificates,
                    "requests": proxy.requests,
                    "foreign_cores": load.cores,
                }
                log(f"  aws cli, one process per user {seconds:.2f} s")
            if size == target_size:
                # The same, with moto computing every answer: its CPU then competes for this machine's cores.
                proxy.replay_actions = frozenset()
                entry["without_replay"] = {
                    "collection": _collection(adhoc, proxy, size, runs),
                    "sequential": _sequential(proxy, 1),
                }
                plain = entry["without_replay"]
                log(
                    f"  without replay: net {plain['collection']['net_seconds']:.2f} s, "
                    f"sequential {plain['sequential']['median_seconds']:.2f} s"
                )
            results["sizes"][str(size)] = entry
    return results
