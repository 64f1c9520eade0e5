# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carry out a plan (a certificate plan or a rotation plan): its writes, in order, and an account of what
took effect.

The executor decides nothing and fails nothing: it reports, and the module fails or plans again.
It knows what it sent, so `changed` is true when one of this task's writes took effect, even when the
answer was lost and botocore's retry of the same request was told DuplicateCertificate or NoSuchEntity.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ansible_collections.certops.aws.plugins.module_utils.certificate import (
    Certificate,
    try_parse_certificate,
    utc_now,
)
from ansible_collections.certops.aws.plugins.module_utils.iam import IamError, SigningCertificates
from ansible_collections.certops.aws.plugins.module_utils.planner import (
    DELETE,
    SET_STATUS,
    UPLOAD,
    Plan,
    Request,
    find_target,
    shows_as_requested,
)
from ansible_collections.certops.aws.plugins.module_utils.rotation import RotationPlan
from ansible_collections.certops.aws.plugins.module_utils.rules import (
    ACTIVE,
    DUPLICATE_CERTIFICATE,
    INACTIVE,
    LIMIT_EXCEEDED,
    NO_SUCH_ENTITY,
    Record,
    by_id,
    record,
)

# An upload refused with one of these may have lost a race to another writer: read again and plan again.
RACE_CODES = (DUPLICATE_CERTIFICATE, LIMIT_EXCEEDED)
WAIT_INTERVAL = 1.0  # seconds between two listings of a wait
# After IAM refused an upload as a duplicate that the user's listing does not show: how long to look for it there
# (IAM is eventually consistent: a certificate uploaded a moment ago can be missing from listings for seconds).
DUPLICATE_SETTLE_SECONDS = 5


class Clock(Protocol):
    """What a wait needs of the time: the time module is one; tests give one that does not sleep."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


@dataclass
class Execution:
    """What a plan's execution did.

    changed: a write of this task took effect. uploaded: IAM's answer to this task's upload.
    error: the write that failed, if any; raced: that write was an upload refused after another writer
    changed the user (error.resent: an earlier attempt of it may have taken effect).
    """

    changed: bool = False
    uploaded: Record | None = None
    error: IamError | None = None
    raced: bool = False

    def failure(self) -> dict[str, Any]:
        """What the task returns when a write failed: the message says what had been done before."""
        error = self.error or IamError("Could not carry out the plan", "Failed")
        if self.uploaded is None:
            return {"msg": error.message, "error_code": error.code, "changed": self.changed}
        return {
            "msg": f"The certificate was uploaded as {self.uploaded['certificate_id']} ({self.uploaded['status']}), "
            f"but then: {error.message}. Run the task again to finish",
            "error_code": error.code,
            "changed": True,
            "certificate": self.uploaded,
        }


def read_certificates(api: SigningCertificates, user_name: str | None, now: datetime.datetime) -> list[Record] | None:
    """The user's certificates as records; None when the user does not exist. Other failures raise IamError."""
    try:
        return [record(raw, now) for raw in api.list(user_name)]
    except IamError as error:
        if error.code == NO_SUCH_ENTITY:
            return None
        raise


def listed_as_requested(
    api: SigningCertificates,
    request: Request,
    timeout: float,
    now: datetime.datetime,
    clock: Clock | None = None,
) -> list[Record] | None:
    """The user's certificates from the first listing that shows the request carried out (IAM is eventually
    consistent: a write can be missing from a listing for seconds); None when no listing did within `timeout`
    seconds. Lists at once, then every WAIT_INTERVAL seconds, never sleeping past the deadline: timeout 0 is
    one listing. Failures of a listing raise IamError."""
    clock = clock or time
    deadline = clock.monotonic() + timeout
    while True:
        records = read_certificates(api, request.user_name, now)
        if shows_as_requested(records, request):
            return records or []
        remaining = deadline - clock.monotonic()
        if remaining <= 0:
            return None
        clock.sleep(min(WAIT_INTERVAL, remaining))


def execute(
    api: SigningCertificates, user_name: str | None, plan: Plan, body: str | None, now: datetime.datetime
) -> Execution:
    done = Execution()
    for action in plan.actions:
        try:
            if action.kind == UPLOAD:
                done.uploaded = record(api.upload(user_name, body or ""), now)
            elif action.kind == SET_STATUS:
                certificate_id = action.certificate_id or (done.uploaded or {}).get("certificate_id")
                api.set_status(user_name, certificate_id, action.status)
            elif action.kind == DELETE:
                api.delete(user_name, action.certificate_id)
            done.changed = True
        except IamError as error:
            if action.kind == DELETE and error.code == NO_SUCH_ENTITY:
                # Gone already: by this task's own earlier attempt if the request was resent, else by another.
                done.changed = done.changed or error.resent
                continue
            done.error = error
            done.raced = action.kind == UPLOAD and error.code in RACE_CODES
            return done
    return done


@dataclass
class RotationRun:
    """What a rotation's execution did, step by step; error: the step that failed, if any."""

    deleted: list[str] = field(default_factory=list)
    restored: dict[str, str] = field(default_factory=dict)
    # Put back, but left Active (IAM uploads a certificate Active) because making it inactive again failed: why.
    restored_active: dict[str, str] = field(default_factory=dict)
    new_certificate_id: str | None = None
    activated: bool = False
    retired: list[str] = field(default_factory=list)
    error: IamError | None = None
    failed_step: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.deleted or self.activated or self.retired)

    @property
    def lost(self) -> list[str]:
        """Certificates deleted to make room and not put back after the upload failed."""
        return [certificate_id for certificate_id in self.deleted if certificate_id not in self.restored]


def _held(api: SigningCertificates, user_name: str, fingerprint: str) -> dict[str, Any] | None:
    """The user's certificate (as IAM lists it) with this fingerprint, if the user has it."""
    for raw in api.list(user_name):
        parsed = try_parse_certificate(raw.get("CertificateBody"))
        if parsed is not None and parsed.fingerprint_sha256 == fingerprint:
            return raw
    return None


def _verified(api: SigningCertificates, user_name: str, fingerprint: str, tries: int, delay: float) -> bool:
    """Whether IAM lists the new certificate as active; IAM is eventually consistent, so look a few times."""
    for attempt in range(tries):
        if attempt:
            time.sleep(delay)
        held = _held(api, user_name, fingerprint)
        if held is not None and held.get("Status") == ACTIVE:
            return True
    return False


def execute_rotation(
    api: SigningCertificates,
    user_name: str,
    plan: RotationPlan,
    new: Certificate,
    records: list[Record],
    retire_by_deleting: bool,
    verify_tries: int,
    verify_delay: float,
) -> RotationRun:
    """Make room, upload or activate the new certificate, verify it is active, then retire the old ones.

    records: the user's certificates as read, to put back those deleted to make room if the upload fails.
    """
    run = RotationRun(new_certificate_id=(plan.uploaded or {}).get("certificate_id"))
    step = "make room"
    try:
        for certificate_id in plan.make_room:
            if _delete(api, user_name, certificate_id):
                run.deleted.append(certificate_id)
        step = "upload the new certificate"
        if plan.upload:
            run.new_certificate_id = _upload(api, user_name, new, bool(plan.make_room), verify_tries, verify_delay)
            run.activated = True
        elif plan.activate:
            step = "activate the new certificate"
            _set_status(api, user_name, run.new_certificate_id, ACTIVE)
            run.activated = True
        step = "verify the new certificate"
        if run.activated and not _verified(api, user_name, new.fingerprint_sha256, verify_tries, verify_delay):
            run.error = IamError(
                f"IAM did not list the new certificate {run.new_certificate_id} as active after {verify_tries} "
                "tries; no certificate was retired. Run the rotation again once IAM shows it",
                "NotVerified",
            )
        else:
            step = "retire the previously active certificates"
            for certificate_id in plan.retire:
                if not retire_by_deleting:
                    _set_status(api, user_name, certificate_id, INACTIVE)
                elif not _delete(api, user_name, certificate_id):
                    continue  # deleted meanwhile by someone else: retired, but not by this run
                run.retired.append(certificate_id)
    except IamError as error:
        run.error = error
    if run.error is not None:
        run.failed_step = step
        if run.deleted and not run.activated:
            _restore(api, user_name, run, records)
    return run


def _restore(api: SigningCertificates, user_name: str, run: RotationRun, records: list[Record]) -> None:
    """Whole or nothing: the upload failed after room was made, so upload the deleted certificates again,
    with their status (IAM gives them new IDs). An expired one cannot be uploaded again and stays lost."""
    for certificate_id in run.deleted:
        deleted = by_id(records, certificate_id)
        if deleted is None or not deleted.get("certificate_body"):
            continue
        try:
            restored = api.upload(user_name, deleted["certificate_body"])["CertificateId"]
        except IamError as error:
            parsed = try_parse_certificate(deleted["certificate_body"])
            held = _held_after_refusal(api, user_name, parsed, error) if parsed and _maybe_done(error) else None
            if held is None:
                continue
            restored = held["certificate_id"]
        run.restored[certificate_id] = restored
        if deleted.get("status") != ACTIVE:
            try:
                _set_status(api, user_name, restored, deleted.get("status") or INACTIVE)
            except IamError as error:
                run.restored_active[certificate_id] = error.message


def _maybe_done(error: IamError) -> bool:
    """Whether a write that failed with `error` may have taken effect all the same: sent more than once (an
    attempt's answer lost), or refused as a duplicate (an earlier attempt, or another writer, put it there)."""
    return error.resent or error.code == DUPLICATE_CERTIFICATE


def _shown(api: SigningCertificates, request: Request) -> bool:
    """Whether IAM's listing shows the request carried out, looking for up to DUPLICATE_SETTLE_SECONDS (IAM lists a
    write late); a listing that fails shows nothing."""
    try:
        return listed_as_requested(api, request, DUPLICATE_SETTLE_SECONDS, utc_now()) is not None
    except IamError:
        return False


def _set_status(api: SigningCertificates, user_name: str, certificate_id: str, status: str) -> None:
    """Set a certificate's status. A request sent more than once whose last answer was an error may have taken
    effect: when IAM's listing shows the status, it did."""
    try:
        api.set_status(user_name, certificate_id, status)
    except IamError as error:
        wanted = Request(user_name, status.lower(), certificate_id=certificate_id)
        if not (error.resent and _shown(api, wanted)):
            raise


def _delete(api: SigningCertificates, user_name: str, certificate_id: str) -> bool:
    """Delete a certificate; whether this task's request deleted it. Already gone (NoSuchEntity): by an earlier
    attempt of this request if it was sent more than once, else by someone else. A request sent more than once
    whose last answer was an error took effect when IAM's listing no longer shows the certificate."""
    try:
        api.delete(user_name, certificate_id)
        return True
    except IamError as error:
        if error.code == NO_SUCH_ENTITY:
            return error.resent
        if error.resent and _shown(api, Request(user_name, "absent", certificate_id=certificate_id)):
            return True
        raise


def listed_after_refusal(
    api: SigningCertificates, request: Request, code: str | None, now: datetime.datetime, resent: bool = False
) -> list[Record] | None:
    """The user's certificates from the first listing that shows the certificate whose upload IAM refused with
    `code`: one listing, or, after DuplicateCertificate or when the upload was sent more than once (an attempt
    whose answer was lost may have taken effect), listings for up to DUPLICATE_SETTLE_SECONDS; None when none
    showed it."""
    seconds = DUPLICATE_SETTLE_SECONDS if code == DUPLICATE_CERTIFICATE or resent else 0
    return listed_as_requested(api, replace(request, state="present"), seconds, now)


def _held_after_refusal(api: SigningCertificates, user_name: str, new: Certificate, error: IamError) -> Record | None:
    """The user's certificate that is the new one, as listed after its upload failed with `error`; None also when
    the user cannot be listed (the upload's own failure is the one to report)."""
    request = Request(user_name, "present", new)
    try:
        listed = listed_after_refusal(api, request, error.code, utc_now(), error.resent)
    except IamError:
        return None
    found = find_target(listed, request) if listed is not None else None
    return found if isinstance(found, dict) else None


def _upload(
    api: SigningCertificates, user_name: str, new: Certificate, made_room: bool, tries: int, delay: float
) -> str:
    """Upload the new certificate and return its ID.

    Refused as a duplicate or over the quota, or failed after botocore sent it more than once, the user is read
    again: the answer to an attempt that took effect may have been lost, or another writer raced; if the user has
    the certificate now, it is the upload's result. After deleting to make room, IAM may still count the deleted
    certificate for a moment: the upload is tried again, `tries` times at most.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return api.upload(user_name, new.pem)["CertificateId"]
        except IamError as error:
            if error.code not in RACE_CODES and not error.resent:
                raise
            held = _held_after_refusal(api, user_name, new, error)
            if held is not None:
                if held["status"] != ACTIVE:
                    _set_status(api, user_name, held["certificate_id"], ACTIVE)
                return held["certificate_id"]
            if not (made_room and error.code == LIMIT_EXCEEDED and attempt < tries):
                raise
        time.sleep(delay)
