"""A host's signing directory and its IAM user, for tests of the host rotation planner and the host steps.

Real directories (under a temporary path) and real keys and certificates, so that the host steps of
plugins/modules/host_signing_certificate_step.py and the look of module_utils/host_layout.py run as on a host; IAM
is a small model with IAM's rules (the quota of 2, IDs it chooses). A run is the role's sequence of steps, with
community.crypto's three tasks played by writing a pair made here; a failure or a kill can be injected at any step.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ansible_collections.certops.aws.plugins.module_utils import host_layout
from ansible_collections.certops.aws.plugins.module_utils.certificate import (
    CertificateError,
    made_for_uri,
    parse_certificate,
    private_key_public_sha256,
)
from ansible_collections.certops.aws.plugins.module_utils.host_options import check_options
from ansible_collections.certops.aws.plugins.module_utils.host_rotation import HostPlan, plan_host
from ansible_collections.certops.aws.plugins.modules import host_signing_certificate_step as steps
from tools.certs import make_certificate

HOST, USER = "host-1", "alice"
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
DAY = datetime.timedelta(days=1)
# Validity of a certificate made here, relative to now, in days: (not_before, not_after).
VALIDITY = {"long": (-30, 300), "due": (-300, 5), "expired": (-300, -1)}
# Where the host's signing directory is: one path for the whole process (made afresh for each case by fresh_world), so
# that the pairs made once for all cases can name it in their made-for name, as the role names its own directory.
WORLD = Path(tempfile.gettempdir()) / f"certops-host-world-{os.getpid()}"
SIGNING = WORLD / "signing"
# Whom a certificate was made for: nobody (placed by hand), this host, another host, another user.
MADE_FOR = {
    "hand": None,
    "here": (HOST, USER, str(SIGNING), ""),
    "other-host": ("host-2", USER, str(SIGNING), ""),
    "other-user": (HOST, "bob", str(SIGNING), ""),
}


@contextlib.contextmanager
def fresh_world() -> Iterator[Path]:
    """WORLD, empty (root's, 0755): the signing directory of a case is WORLD / "signing"."""
    shutil.rmtree(WORLD, ignore_errors=True)
    WORLD.mkdir(mode=0o755)
    try:
        yield WORLD
    finally:
        shutil.rmtree(WORLD, ignore_errors=True)


@dataclass(frozen=True)
class Material:
    """A key and its self-signed certificate."""

    label: str
    key: bytes
    cert: bytes
    fingerprint: str
    made_for: tuple[str, ...] | None
    not_after: str


def _material(label: str, validity: str, made_for: tuple[str, ...] | None) -> Material:
    key = ec.generate_private_key(ec.SECP256R1())  # fast to make, and as good as RSA for what is tested here
    start, end = VALIDITY[validity]
    uris = (made_for_uri(*made_for),) if made_for else ()
    cert = make_certificate(label, days=end, starts_in_days=start, key=key, uris=uris)
    parsed = parse_certificate(cert)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    not_after = parsed.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    return Material(label, key_pem, cert.encode(), parsed.fingerprint_sha256, made_for, not_after)


@functools.lru_cache(maxsize=1)
def pool() -> tuple[Material, ...]:
    """Two pairs of every validity for every maker."""
    return tuple(
        _material(f"{who}-{validity}-{copy}", validity, made_for)
        for who, made_for in MADE_FOR.items()
        for validity in VALIDITY
        for copy in (1, 2)
    )


@functools.lru_cache(maxsize=1)
def new_pairs() -> tuple[Material, ...]:
    """What community.crypto makes for this host in a run (a fresh key each)."""
    return tuple(_material(f"new-{number}", "long", (HOST, USER, str(SIGNING), "")) for number in range(4))


def pair_name(number: int) -> str:
    return f"20260101T0000{number:02d}.000000Z"


@functools.lru_cache(maxsize=1)
def dead_controller() -> dict[str, Any]:
    """A controller whose ansible process has ended: a killed run's lock is known to be stale at once."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    pid = int(child.stdout)
    return {**host_layout.controller_identity(), "pid": pid, "started": "0"}


# ---------------------------------------------------------------------------------------------------------------
# IAM


@dataclass
class Iam:
    records: list[dict[str, Any]] = field(default_factory=list)
    writes: list[tuple[str, str]] = field(default_factory=list)
    uploads: int = 0
    counter: int = 0

    def add(self, material: Material, status: str) -> str:
        self.counter += 1
        certificate_id = f"ASCA{self.counter:020d}"
        self.records.append(
            {
                "certificate_id": certificate_id,
                "user_name": USER,
                "status": status,
                "upload_date": (NOW + self.counter * datetime.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "fingerprint_sha256": material.fingerprint,
                "not_after": material.not_after,
                "made_for": list(material.made_for) if material.made_for else None,
            }
        )
        return certificate_id

    def by_id(self, certificate_id: str) -> dict[str, Any] | None:
        return next((r for r in self.records if r["certificate_id"] == certificate_id), None)

    def by_fingerprint(self, fingerprint: str | None) -> dict[str, Any] | None:
        return next((r for r in self.records if r["fingerprint_sha256"] == fingerprint), None)

    def delete(self, certificate_id: str) -> None:
        record = self.by_id(certificate_id)
        assert record is not None, f"the plan deletes {certificate_id}, which IAM does not have"
        self.records.remove(record)
        self.writes.append(("delete", record["fingerprint_sha256"]))

    def upload(self, material: Material) -> str:
        assert len(self.records) < 2, "IAM refuses the upload: LimitExceeded (the plan made too little room)"
        assert self.by_fingerprint(material.fingerprint) is None
        self.uploads += 1
        certificate_id = self.add(material, "Active")
        self.writes.append(("upload", material.fingerprint))
        return certificate_id

    def retire(self, certificate_id: str, state: str) -> None:
        if state == "absent":
            self.delete(certificate_id)
            return
        record = self.by_id(certificate_id)
        assert record is not None, f"the plan retires {certificate_id}, which IAM does not have"
        record["status"] = "Inactive"
        self.writes.append(("deactivate", record["fingerprint_sha256"]))

    def snapshot(self) -> list[tuple[str, str, str]]:
        return sorted((r["certificate_id"], r["status"], r["fingerprint_sha256"]) for r in self.records)


# ---------------------------------------------------------------------------------------------------------------
# The host


def write_pair(directory: Path, material: Material | None, part: str = "both") -> None:
    """A pair as the role leaves it (part "both"), or an interrupted one: "key" only, or "empty"."""
    directory.mkdir(mode=0o750)
    if material is None or part == "empty":
        return
    (directory / "signing.key").write_bytes(material.key)
    os.chmod(directory / "signing.key", 0o600)
    if part == "both":
        (directory / "signing.pem").write_bytes(material.cert)
        os.chmod(directory / "signing.pem", 0o644)


def snapshot(directory: Path) -> dict[str, Any]:
    """Everything under a directory: type, mode and content digest of files, targets of links."""
    seen: dict[str, Any] = {}
    if not directory.exists():
        return seen
    for path in sorted(directory.rglob("*")):
        info = path.lstat()
        relative = str(path.relative_to(directory))
        if stat.S_ISLNK(info.st_mode):
            seen[relative] = ("link", os.readlink(path))
        elif stat.S_ISDIR(info.st_mode):
            seen[relative] = ("dir", stat.S_IMODE(info.st_mode), info.st_uid)
        else:
            seen[relative] = (
                "file",
                stat.S_IMODE(info.st_mode),
                info.st_uid,
                hashlib.sha256(path.read_bytes()).hexdigest(),
            )
    return seen


def consumer_view(directory: Path) -> tuple[str, str] | None:
    """What a consumer reads at the stable paths: (key's public hash, certificate's), or None when it reads nothing."""
    try:
        key = (directory / "signing.key").read_bytes()
        cert = (directory / "signing.pem").read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        parsed = parse_certificate(cert.decode())
        return private_key_public_sha256(key), parsed.public_key_sha256 or "", parsed.fingerprint_sha256
    except CertificateError:
        return None  # not a pair a consumer could use: nothing to keep


def held_fingerprints(directory: Path) -> set[str]:
    """The certificates of every whole pair on the host (pairs/*, and a pair placed by hand)."""
    found = set()
    places = [directory] + (sorted((directory / "pairs").iterdir()) if (directory / "pairs").is_dir() else [])
    for place in places:
        try:
            if (place / "signing.key").is_file() and not (place / "signing.key").is_symlink():
                found.add(parse_certificate((place / "signing.pem").read_text()).fingerprint_sha256)
        except Exception:
            continue
    return found


def options(**overrides: Any) -> dict[str, Any]:
    given = {"user_name": USER, "dir": None, "host_name": HOST, "verify_retries": 1, "verify_delay": 0, **overrides}
    checked, problems = check_options(given, NOW)
    assert not problems, problems
    return checked


# ---------------------------------------------------------------------------------------------------------------
# A run of the role


class Killed(Exception):
    """The run was killed: nothing after the step runs, not even the rescue."""


@dataclass
class RunRecord:
    plan: HostPlan
    failed_at: str | None = None
    steps_taken: list[str] = field(default_factory=list)
    retired_here: set[str] = field(default_factory=set)


def run_role(
    directory: Path,
    iam: Iam,
    opts: dict[str, Any],
    now: datetime.datetime,
    fresh: list[Material],
    check_fails: bool = False,
    fail_at: str | None = None,
    kill: bool = False,
    observe: Any = None,
) -> RunRecord:
    """One run of the role on one host: look, plan, then the plan's steps in the role's order. fail_at names a step
    that fails (before it does anything); kill: the run dies there instead (no rescue, the lock stays). observe is
    called after every step that took effect."""
    opts = {**opts, "dir": str(directory)}
    facts = host_layout.look(str(directory), opts["owner"], opts["group"], now.timestamp())
    plan = plan_host(opts, facts, [dict(r) for r in iam.records], now)
    record = RunRecord(plan)
    if plan.blocked or not plan.changes:
        return record
    args = plan.steps(facts["token"])
    run = {"id": f"run-{now.timestamp()}", "controller": dead_controller(), "lease": 1800}
    step = host_layout.Step(facts["path"], run, now.timestamp)
    new_material = None

    def take(name: str, action) -> None:
        if fail_at == name:
            record.failed_at = name
            raise Killed() if kill else RuntimeError(name)
        action()
        record.steps_taken.append(name)
        if observe:
            observe(name)

    def make_pair() -> None:
        nonlocal new_material
        new_material = fresh.pop(0)
        target = Path(facts["path"]) / "pairs" / args["new_pair"]
        (target / "signing.key").write_bytes(new_material.key)
        os.chmod(target / "signing.key", 0o600)
        (target / "signing.pem").write_bytes(new_material.cert)

    def check() -> str | None:
        return "the consumer check failed" if check_fails else None

    try:
        if args["begin"]:
            take("begin", lambda: steps.begin(step, args["begin"]))
        if args["new_pair"]:
            take("make", make_pair)
        for certificate_id in args["make_room"]:
            take("make_room", lambda certificate_id=certificate_id: iam.delete(certificate_id))
            record.retired_here.add(certificate_id)
        if args["upload"]:
            take("upload", lambda: iam.upload(new_material))
        if args["switch"]:
            take("switch", lambda: steps.switch(step, args["switch"], check))
        for certificate_id in args["retire"]:
            take("retire", lambda certificate_id=certificate_id: iam.retire(certificate_id, args["retire_state"]))
            record.retired_here.add(certificate_id)
        if args["end"]:
            take("end", lambda: steps.end(step, args["end"]))
    except Killed:
        return record
    except (RuntimeError, host_layout.LayoutError) as failure:
        record.failed_at = record.failed_at or str(getattr(failure, "code", failure))
        steps.abort(step)
    return record


def lock_holder(directory: Path) -> dict[str, Any] | None:
    try:
        return json.loads((directory / "rotation.lock").read_text())
    except FileNotFoundError:
        return None
