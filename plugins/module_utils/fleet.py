# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rotate many users in one process: read and plan each user, find out who else holds a new certificate when
that must be known, then carry the plans out; at most max_concurrency requests in flight.

Each user is isolated: a user that cannot be rotated is refused alone, and the others carry on.
"""

from __future__ import annotations

import datetime
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ansible_collections.certops.aws.plugins.module_utils.certificate import (
    Certificate,
    CertificateError,
    load_certificate,
)
from ansible_collections.certops.aws.plugins.module_utils.executor import RotationRun, execute_rotation
from ansible_collections.certops.aws.plugins.module_utils.iam import (
    UNREACHABLE,
    IamError,
    SigningCertificates,
    invalid_user_name,
)
from ansible_collections.certops.aws.plugins.module_utils.rotation import (
    RotationPlan,
    records_after,
    rotation_plan,
    summary_line,
)
from ansible_collections.certops.aws.plugins.module_utils.rules import (
    ACTIVE,
    DUPLICATE_CERTIFICATE,
    INVALID_CERTIFICATE_BODY,
    INVALID_PARAMETERS,
    NO_SUCH_ENTITY,
    Record,
    Refusal,
    diff_by_id,
    no_such_user,
    not_given,
    owner_refusal,
    predicted_record,
    record,
    same_user,
    user_name_of,
)

# How often a user about to start looks whether the requests out decided a suspect endpoint's fate.
SUSPECT_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class RotationSettings:
    threshold_days: int
    force: bool
    retire_by_deleting: bool
    verify_retries: int
    verify_delay: float
    max_concurrency: int


class Rotation:
    """One user's rotation: its request, its plan and what was done."""

    def __init__(self, user_name: str | None, new: Certificate | None, refusal: Refusal | None = None) -> None:
        self.user_name = user_name
        self.new = new
        self.refusal = refusal
        self.records: list[Record] = []
        self.plan: RotationPlan | None = None
        self.run: RotationRun | None = None

    @property
    def acting(self) -> bool:
        return self.refusal is None and self.plan is not None

    @property
    def attempted(self) -> bool:
        """Whether the plan ran (or, in check mode, would run): a user refused before its plan ran did nothing."""
        return self.run is not None or self.refusal is None

    def after(self, retire_by_deleting: bool, now: datetime.datetime) -> list[Record]:
        """The user's certificates after the rotation: as planned, or as carried out once it ran."""
        plan, run = self.plan, self.run
        if plan is None or plan.blocked is not None or self.new is None or not self.attempted:
            return self.records
        if run is None:
            new_record = plan.uploaded
            if plan.upload:
                new_record = predicted_record(self.user_name, self.new, now)
            elif not plan.rotated and (plan.uploaded or {}).get("status") != "Active":
                new_record = None
            return records_after(self.records, plan.make_room, new_record, plan.retire, retire_by_deleting)
        new_record = None
        if run.activated:
            new_record = {**predicted_record(self.user_name, self.new, now), **(plan.uploaded or {})}
            new_record["certificate_id"] = run.new_certificate_id
        elif (plan.uploaded or {}).get("status") == "Active":
            new_record = plan.uploaded
        after = records_after(self.records, run.deleted, new_record, run.retired, retire_by_deleting)
        restored = [
            {
                **rec,
                "certificate_id": run.restored[rec["certificate_id"]],
                **({"status": ACTIVE} if rec["certificate_id"] in run.restored_active else {}),
            }
            for rec in self.records
            if rec["certificate_id"] in run.restored
        ]
        return after + restored

    def result(self) -> dict[str, Any]:
        """This user's entry in the module's results: predicted until it ran, then what was done."""
        plan, run = self.plan, self.run
        entry: dict[str, Any] = {
            "user_name": self.user_name,
            "rotated": False,
            # A user refused before its plan was made: the refusal is the reason.
            "reason": plan.reason if plan else (self.refusal.message if self.refusal else ""),
            "new_certificate_id": (plan.uploaded or {}).get("certificate_id") if plan else None,
            "new_fingerprint_sha256": self.new.fingerprint_sha256 if self.new else None,
            "retired": [],
            "deleted_to_make_room": [],
            "changed": False,
            "failed": self.refusal is not None,
            "msg": self.refusal.message if self.refusal else "",
            "error_code": self.refusal.error_code if self.refusal else None,
        }
        if plan is None or plan.blocked is not None or not self.attempted:
            return entry
        if run is None:
            entry.update(
                rotated=plan.rotated,
                retired=list(plan.retire),
                deleted_to_make_room=list(plan.make_room),
                changed=bool(plan.rotated or plan.retire or plan.make_room),
            )
        else:
            entry.update(
                rotated=run.activated,
                new_certificate_id=run.new_certificate_id,
                retired=run.retired,
                deleted_to_make_room=run.deleted,
                changed=run.changed,
            )
        return entry


def _entry_refusal(number: int, user_name: str | None, entry: dict[str, Any]) -> Refusal | None:
    """Why an entry cannot be rotated before anything is read, or None."""
    if user_name is None:
        raw = entry.get("user_name")
        given = "is required" if not_given(raw) else f"must be a string, got {type(raw).__name__}"
        return Refusal(f"users[{number}]: user_name {given}", INVALID_PARAMETERS)
    problem = invalid_user_name(user_name)
    if problem:
        return Refusal(problem, INVALID_PARAMETERS)
    certificate = entry.get("new_certificate")
    if not_given(certificate):
        return Refusal(f"new_certificate of {user_name!r} is required", INVALID_PARAMETERS)
    if not isinstance(certificate, str):
        return Refusal(
            f"new_certificate of {user_name!r} must be a PEM string, got {type(certificate).__name__}",
            INVALID_PARAMETERS,
        )
    return None


ENTRY_KEYS = ("user_name", "new_certificate")


def _entry_shape_refusal(number: int, entry: Any) -> Refusal | None:
    """Why an entry of users is not a mapping of user_name and new_certificate, or None."""
    if not isinstance(entry, dict):
        return Refusal(
            f"users[{number}] must be a mapping of user_name and new_certificate, got {type(entry).__name__}",
            INVALID_PARAMETERS,
        )
    unknown = sorted(str(key) for key in entry if key not in ENTRY_KEYS)
    if unknown:
        return Refusal(
            f"users[{number}] has {'an unknown key' if len(unknown) == 1 else 'unknown keys'} "
            f"{', '.join(repr(key) for key in unknown)}: only user_name and new_certificate",
            INVALID_PARAMETERS,
        )
    return None


def parse_users(users: list[Any]) -> list[Rotation]:
    """One Rotation per entry; an entry that breaks a rule is refused alone, before any call. An entry is named by its
    position, from 1 as a user counts, when it has no user name to be named by."""
    rotations = []
    for number, entry in enumerate(users, start=1):
        shape = _entry_shape_refusal(number, entry)
        if shape is not None:
            name = user_name_of(entry.get("user_name")) if isinstance(entry, dict) else None
            rotations.append(Rotation(name, None, shape))
            continue
        user_name, new = user_name_of(entry.get("user_name")), None
        refusal = _entry_refusal(number, user_name, entry)
        if refusal is None:
            try:
                new = load_certificate(entry["new_certificate"])
            except CertificateError as exc:
                refusal = Refusal(f"new_certificate of {user_name!r} {exc}", INVALID_CERTIFICATE_BODY)
        rotations.append(Rotation(user_name, new, refusal))

    names = [rotation.user_name.casefold() for rotation in rotations if rotation.user_name is not None]
    holders: dict[str, list[str]] = {}
    for rotation in rotations:
        if rotation.new is not None:
            holders.setdefault(rotation.new.fingerprint_sha256, []).append(rotation.user_name)
    for rotation in rotations:
        if rotation.refusal is not None:
            continue
        sharing = holders[rotation.new.fingerprint_sha256] if rotation.new is not None else []
        if names.count(rotation.user_name.casefold()) > 1:
            message = f"user {rotation.user_name!r} appears more than once in users (IAM user names ignore case)"
            rotation.refusal = Refusal(message, INVALID_PARAMETERS)
        elif len(sharing) > 1:
            rotation.refusal = Refusal(
                f"the same new certificate is given to several users ({', '.join(sharing)}); "
                "IAM allows a certificate on only one user of an account",
                INVALID_PARAMETERS,
            )
    return rotations


class Rotator:
    """Reads, plans and rotates users; the account-wide owner lookup is made at most once per run.

    A request that fails fails its user alone. Only once the endpoint is lost (no connection can be made, or two
    requests failed on their way with no answer from IAM in between: a hung endpoint) are the users not started
    yet left alone, "not attempted", instead of each waiting out the whole retry budget again.
    """

    def __init__(
        self, api: SigningCertificates, settings: RotationSettings, check_mode: bool, now: datetime.datetime
    ) -> None:
        self.api = api
        self.settings = settings
        self.check_mode = check_mode
        self.now = now
        self.warnings: list[str] = []
        self._owners: dict[str, str] | None = None
        self._unreachable: IamError | None = None
        # Requests IAM had answered when a request last failed on its way (None: none failed yet). Until IAM answers
        # another, the endpoint is suspect.
        self._suspect_since: int | None = None
        self._lock = threading.Lock()

    def results(self, rotations: list[Rotation]) -> list[dict[str, Any]]:
        """The module's results: each user's entry, with its summary line."""
        entries = []
        for rotation in rotations:
            entry = rotation.result()
            entry["summary"] = summary_line(entry, self.check_mode, self.settings.retire_by_deleting)
            entries.append(entry)
        return entries

    def _note_transport_failure(self, error: IamError) -> None:
        """Count one request that failed on its way (once per request). The endpoint is lost when no connection can
        be made, or when a second request fails so with no answer from IAM since the first."""
        if error.code != UNREACHABLE:
            return
        with self._lock:
            answered = self.api.answered
            if error.cannot_connect or self._suspect_since == answered:
                self._unreachable = self._unreachable or error
            self._suspect_since = answered

    def _suspect(self) -> bool:
        return self._suspect_since is not None and self._suspect_since == self.api.answered

    def _not_attempted(self, rotation: Rotation) -> bool:
        """Refuse the rotation without a request if the endpoint is lost; whether it was. While the endpoint is
        suspect and other requests are out, wait for their outcome; with none out, this user's request decides."""
        while self._unreachable is None and self._suspect() and self.api.in_flight > 0:
            time.sleep(SUSPECT_POLL_SECONDS)
        lost = self._unreachable
        if lost is None:
            return False
        rotation.refusal = Refusal(
            f"not attempted: the IAM endpoint {lost.endpoint} could not be reached ({lost.message})", UNREACHABLE
        )
        return True

    def _refused(self, rotation: Rotation, error: IamError, prefix: str = "") -> None:
        if error.code == NO_SUCH_ENTITY and not prefix:
            rotation.refusal = no_such_user(rotation.user_name)
        else:
            rotation.refusal = Refusal(prefix + error.message, error.code or "Failed")

    def plan(self, rotation: Rotation, owner_elsewhere: str | None = None) -> None:
        if rotation.new is None:  # refused when parsed
            return
        rotation.plan = rotation_plan(
            rotation.records,
            rotation.new,
            self.settings.threshold_days,
            self.now,
            self.settings.force,
            owner_elsewhere,
        )
        if rotation.plan.blocked is not None:
            rotation.refusal = rotation.plan.blocked

    def read_and_plan(self, rotation: Rotation) -> None:
        if self._not_attempted(rotation):
            return
        try:
            rotation.records = [record(raw, self.now) for raw in self.api.list(rotation.user_name)]
        except IamError as error:
            self._note_transport_failure(error)
            self._refused(rotation, error)
            return
        self.plan(rotation)

    def owner_elsewhere(self, rotation: Rotation) -> str | None:
        """The other user of the account that holds the rotation's new certificate, if any."""
        if rotation.new is None:
            return None
        if self._owners is None:
            self._owners = self.api.owners(self.settings.max_concurrency)
        owner = self._owners.get(rotation.new.fingerprint_sha256)
        return None if owner is None or same_user(owner, rotation.user_name) else owner

    def execute(self, rotation: Rotation) -> None:
        if rotation.plan is None or rotation.new is None or self._not_attempted(rotation):
            return
        run = execute_rotation(
            self.api,
            rotation.user_name,
            rotation.plan,
            rotation.new,
            rotation.records,
            self.settings.retire_by_deleting,
            self.settings.verify_retries,
            self.settings.verify_delay,
        )
        rotation.run = run
        if run.error is not None:
            self._note_transport_failure(run.error)
            self._report_failure(rotation, run.error)

    def _report_failure(self, rotation: Rotation, error: IamError) -> None:
        """The user's refusal after its run stopped at a step: what failed, and what had been done already."""
        run = rotation.run
        done = []
        if run.restored:
            restored = ", ".join(
                f"{old} as {new}"
                + (
                    f" (left Active: could not make it Inactive again: {run.restored_active[old]})"
                    if old in run.restored_active
                    else ""
                )
                for old, new in run.restored.items()
            )
            done.append(f"deleted to make room and then uploaded again: {restored}")
        if run.lost:
            done.append(f"deleted {', '.join(run.lost)} to make room (could not be uploaded again)")
        if run.activated:
            done.append(f"made the new certificate {run.new_certificate_id} active")
        if run.retired:
            done.append(f"retired {', '.join(run.retired)}")
        already = f" (already done: {'; '.join(done)})" if done else ""
        self._refused(rotation, error, f"could not {run.failed_step}{already}: ")

    def _refuse_certificates_handed_over(self, rotations: list[Rotation]) -> None:
        """A new certificate that another user of this run holds now (that user being rotated away from it): IAM
        would refuse or accept the upload depending on which user's writes come first, so it is refused, in
        check mode as for real, before anything is written."""
        holders = {rec["fingerprint_sha256"]: r.user_name for r in rotations for rec in r.records}
        for rotation in rotations:
            holder = holders.get(rotation.new.fingerprint_sha256) if rotation.new else None
            if rotation.acting and rotation.plan.upload and holder and not same_user(holder, rotation.user_name):
                rotation.refusal = Refusal(
                    f"cannot rotate: the new certificate is uploaded to IAM user {holder!r}, which this run rotates "
                    "too, and IAM allows a certificate on only one user of an account: rotate "
                    f"{holder!r} off it first, then {rotation.user_name!r} in a later run",
                    DUPLICATE_CERTIFICATE,
                )

    def _look_up_owners(self, rotations: list[Rotation]) -> None:
        """Check mode: plan again knowing who else holds each new certificate, so that the preview fails where the
        real run's upload would. When that cannot be found out, a warning says so and the preview predicts what the
        real run does, which learns it from IAM's answer."""
        try:
            for rotation in rotations:
                self.plan(rotation, self.owner_elsewhere(rotation))
        except IamError as error:
            self.warnings.append(
                "check mode could not find out whether another user of the account holds the new certificate "
                f"of {', '.join(r.user_name for r in rotations)} ({error.message}); if one does, the real upload "
                "fails with DuplicateCertificate"
            )

    def rotate_all(self, rotations: list[Rotation]) -> None:
        pending = [r for r in rotations if r.refusal is None]
        with ThreadPoolExecutor(max_workers=self.settings.max_concurrency) as pool:
            list(pool.map(self.read_and_plan, pending))
            self._refuse_certificates_handed_over(pending)
            planned = [r for r in pending if r.acting]
            if self.check_mode:
                self._look_up_owners([r for r in planned if r.plan.upload])
                return
            list(pool.map(self.execute, [r for r in planned if r.refusal is None]))
        self._name_holders([r for r in planned if r.run and r.run.error and r.run.error.code == DUPLICATE_CERTIFICATE])

    def _name_holders(self, refused: list[Rotation]) -> None:
        """Uploads IAM refused as duplicates: name the user that holds each certificate, as check mode does (one
        account-wide lookup, made only now that it is needed); if that cannot be found out, IAM's answer stands."""
        for rotation in refused:
            try:
                owner = self.owner_elsewhere(rotation)
            except IamError:
                return
            if owner is not None:
                taken = owner_refusal("the new certificate", owner)
                rotation.refusal = None
                self._report_failure(rotation, IamError(taken.message, taken.error_code))

    def diff(self, rotations: list[Rotation]) -> dict[str, Any]:
        """Diff mode: the certificates of each user the rotation changes (or would change), before and after."""
        before, after = {}, {}
        for rotation in rotations:
            was = diff_by_id(rotation.records)
            will = diff_by_id(rotation.after(self.settings.retire_by_deleting, self.now))
            if was != will:
                before[rotation.user_name], after[rotation.user_name] = was, will
        return {"before": {"users": before}, "after": {"users": after}}
