"""Section g: the second rotation of 100 users in an account of 3,000 users, against the first.

After a default rotation (the old certificate deactivated) every rotated user holds two certificates, so the next
rotation must delete one to make room. Whether that costs a listing of the whole account (to find out whether another
user holds the new certificate) decides whether a run's cost follows the list or the account.

The account: ACCOUNT_USERS users, straight to moto (not through the proxy, not timed); the first USERS of them hold one
active certificate due in 5 days, the others none (the account-wide lookup lists every user whatever they hold). Each
repeat seeds the account afresh, then runs the collection's playbook `certops.aws.rotate_signing_certificates`
twice over the same USERS users, every request through the LoopbackProxy with the same added latency:
- first: to a certificate valid for a year (each user: read, upload, verify, deactivate the old one);
- second, `force_rotation=true`: to another one (each user: read, delete the inactive old one to make room, upload,
  verify, deactivate the first one).
After each run every user is read back from moto. The figure judged: the second run's time against the first's
(target: at most 1.5 times), with the requests of each by action.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.benchmarks.common import iam_client, reset_moto
from tests.benchmarks.fleet import NEW_DAYS, OLD_DAYS, PLAYBOOK, Fleet, _fingerprint, user_name
from tools import harness
from tools.loopback_proxy import LoopbackProxy

ACCOUNT_USERS = 3000
USERS = 100
TARGET_RATIO = 1.5


def _seed(moto: str, fleet: Fleet, account: int, users: int) -> None:
    reset_moto(moto)
    client = iam_client(moto)
    for number in range(account):
        client.create_user(UserName=user_name(number))
        if number < users:
            client.upload_signing_certificate(UserName=user_name(number), CertificateBody=fleet.old[number])


def _rotations(fleet: Fleet, directory: str, certificates: list[str], endpoint: str, force: bool) -> Path:
    (fleet.work / directory).mkdir(exist_ok=True)
    rotations = []
    for number, pem in enumerate(certificates):
        path = fleet.work / directory / f"{user_name(number)}.pem"
        path.write_text(pem)
        rotations.append({"user": user_name(number), "certificate_file": f"{directory}/{path.name}"})
    file = fleet.work / f"{directory}.json"
    file.write_text(json.dumps({"rotations": rotations, "iam_endpoint_url": endpoint, "force_rotation": force}))
    return file


def _check(moto: str, users: int, active: list[str], inactive: list[str], which: str) -> None:
    """Every user holds exactly the new certificate, active, and the one before it, inactive (read from moto)."""
    client = iam_client(moto)
    wrong = []
    for number in range(users):
        listed = client.list_signing_certificates(UserName=user_name(number))["Certificates"]
        held = sorted((_fingerprint(c["CertificateBody"]), c["Status"]) for c in listed)
        if held != sorted([(_fingerprint(active[number]), "Active"), (_fingerprint(inactive[number]), "Inactive")]):
            wrong.append(user_name(number))
    if wrong:
        raise RuntimeError(f"the {which} rotation left {len(wrong)} of {users} users wrong, e.g. {wrong[:5]}")


def _run(fleet: Fleet, proxy: LoopbackProxy, rotations: Path) -> dict[str, Any]:
    argv = [str(harness.BIN / "ansible-playbook"), PLAYBOOK, "-e", f"@{rotations.name}"]
    run = fleet._metered(argv, fleet.env, proxy)
    return {key: run[key] for key in ("seconds", "requests", "actions", "peak_in_flight", "foreign_cores")}


def measure(
    moto: str,
    collections: Path,
    *,
    account: int = ACCOUNT_USERS,
    users: int = USERS,
    repeats: int,
    latency: float,
    log: Callable[[str], None],
) -> dict[str, Any]:
    from tools.certs import make_certificate

    fleet = Fleet(moto, collections, users)
    newer = [make_certificate(f"{user_name(n)}-newer", days=NEW_DAYS) for n in range(users)]
    runs: list[dict[str, Any]] = []
    try:
        with LoopbackProxy(moto, latency=latency) as proxy:
            first_file = _rotations(fleet, "first", fleet.new, proxy.url, force=False)
            second_file = _rotations(fleet, "second", newer, proxy.url, force=True)
            for repeat in range(repeats):
                _seed(moto, fleet, account, users)
                first = _run(fleet, proxy, first_file)
                _check(moto, users, fleet.new, fleet.old, "first")
                second = _run(fleet, proxy, second_file)
                _check(moto, users, newer, fleet.new, "second")
                runs.append({"first": first, "second": second})
                log(
                    f"second rotation {repeat + 1}/{repeats}: first {first['seconds']:.2f} s, {first['requests']} "
                    f"requests; second {second['seconds']:.2f} s, {second['requests']} requests"
                )
    finally:
        fleet.close()
    first_seconds = statistics.median(run["first"]["seconds"] for run in runs)
    second_seconds = statistics.median(run["second"]["seconds"] for run in runs)
    return {
        "account_users": account,
        "users": users,
        "old_days": OLD_DAYS,
        "latency_ms": latency * 1000,
        "repeats": repeats,
        "runs": runs,
        "first_median_seconds": first_seconds,
        "second_median_seconds": second_seconds,
        "ratio": second_seconds / first_seconds,
        "target_ratio": TARGET_RATIO,
        "first_actions": runs[-1]["first"]["actions"],
        "second_actions": runs[-1]["second"]["actions"],
    }
