# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of iam_signing_certificate: from a user's certificates, the request and the time, what to do.

Pure: no AWS call, no Ansible. Check mode and diff mode are this plan (before, after); the real run
carries out its actions, in order, and nothing else.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field, replace

from ansible_collections.certops.aws.plugins.module_utils.certificate import Certificate
from ansible_collections.certops.aws.plugins.module_utils.rules import (
    CERTIFICATE_MISMATCH,
    NO_SUCH_ENTITY,
    Record,
    Refusal,
    by_fingerprint,
    by_id,
    no_such_user,
    oldest_first,
    owner_refusal,
    predicted_record,
    quota_refusal,
    slots_missing,
    validity_refusal,
    who,
)

STATES = ("present", "absent", "active", "inactive")
STATUS_FOR_STATE = {"active": "Active", "inactive": "Inactive"}
# What a listing must do for a request to show as carried out, as a failure message says it.
LISTING_ASKED = {
    "present": "list it",
    "active": "list it as Active",
    "inactive": "list it as Inactive",
    "absent": "stop listing it",
}

UPLOAD = "upload"
SET_STATUS = "set_status"
DELETE = "delete"


@dataclass(frozen=True)
class Request:
    """What the task asks for, its options already checked."""

    user_name: str | None
    state: str
    certificate: Certificate | None = None
    certificate_id: str | None = None


@dataclass(frozen=True)
class Action:
    """One write. certificate_id None (with SET_STATUS) means the certificate this plan uploads first."""

    kind: str
    certificate_id: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class Plan:
    before: list[Record]
    after: list[Record] = field(default_factory=list)
    target: Record | None = None
    actions: tuple[Action, ...] = ()
    refusal: Refusal | None = None

    @property
    def changed(self) -> bool:
        return bool(self.actions)

    @property
    def uploads(self) -> bool:
        return any(action.kind == UPLOAD for action in self.actions)


def _mismatch(
    request: Request, certificate: Certificate, by_identifier: Record | None, by_body: Record | None
) -> Refusal:
    start = f"certificate_id {request.certificate_id} and certificate_body name different certificates: "
    if by_body is None and by_identifier is not None:
        detail = (
            f"{request.certificate_id} has fingerprint {by_identifier['fingerprint_sha256']}, "
            f"the body has {certificate.fingerprint_sha256}"
        )
    else:
        detail = f"{who(request.user_name)} has that body as {(by_body or {}).get('certificate_id')}"
    return Refusal(start + detail, CERTIFICATE_MISMATCH)


def find_target(records: list[Record], request: Request) -> Record | Refusal | None:
    """The user's certificate the request names, None when the user has none, or a Refusal when the body and
    the ID name different certificates."""
    by_identifier = by_id(records, request.certificate_id) if request.certificate_id else None
    if request.certificate is None:
        return by_identifier
    by_body = by_fingerprint(records, request.certificate.fingerprint_sha256)
    if request.certificate_id is None or by_identifier is by_body:
        return by_body
    return _mismatch(request, request.certificate, by_identifier, by_body)


def _upload_refusal(
    records: list[Record], request: Request, now: datetime.datetime, owner_elsewhere: str | None
) -> Refusal | None:
    """Why the certificate the request names cannot be uploaded; None when it can."""
    if request.certificate_id is not None or request.certificate is None:
        remedy = "IAM chooses the ID of an upload: give certificate_body without certificate_id to upload it"
        if request.certificate is None:
            remedy = "give certificate_body to upload a certificate"
        return Refusal(
            f"{who(request.user_name)} has no signing certificate with ID {request.certificate_id}; {remedy}",
            NO_SUCH_ENTITY,
        )
    refusal = validity_refusal("certificate_body", request.certificate, now)
    if refusal is None and slots_missing(records):
        refusal = quota_refusal(request.user_name, records)
    if refusal is None and owner_elsewhere is not None:
        refusal = owner_refusal("certificate_body", owner_elsewhere)
    return refusal


def plan_certificate(
    records: list[Record] | None, request: Request, now: datetime.datetime, owner_elsewhere: str | None = None
) -> Plan:
    """Decide. records: the user's certificates as read; None when the user does not exist, which satisfies
    state=absent and refuses any other state. owner_elsewhere: another user of the account found to hold the
    certificate (looked up in check mode, where IAM's own refusal of the upload cannot be had)."""
    if records is None and request.state != "absent":
        return Plan([], refusal=no_such_user(request.user_name))
    before = oldest_first(records or [])
    found = find_target(before, request)
    if isinstance(found, Refusal):
        return Plan(before, refusal=found)

    if request.state == "absent":
        if found is None:
            return Plan(before, before)
        return Plan(
            before,
            [r for r in before if r is not found],
            None,
            (Action(DELETE, found["certificate_id"]),),
        )

    actions: list[Action] = []
    after = list(before)
    target = found
    if target is None:
        refusal = _upload_refusal(before, request, now, owner_elsewhere)
        if refusal is not None or request.certificate is None:
            return Plan(before, refusal=refusal)
        target = predicted_record(request.user_name, request.certificate, now)
        after.append(target)
        actions.append(Action(UPLOAD))

    status = STATUS_FOR_STATE.get(request.state)
    if status is not None and target["status"] != status:
        actions.append(Action(SET_STATUS, target["certificate_id"], status))
        updated = {**target, "status": status}
        after = [updated if r is target else r for r in after]
        target = updated
    return Plan(before, after, target, tuple(actions))


def plan_after_race(first: Plan, replanned: Plan, refused: Refusal) -> Plan:
    """The plan once an upload was refused as a possible race (DuplicateCertificate, LimitExceeded) and the user
    read again: the fresh plan, shown against the first read; refused as IAM refused it when the fresh plan
    still uploads (no race: another user of the account holds the certificate)."""
    if replanned.refusal is None and replanned.uploads:
        return replace(replanned, actions=(), refusal=refused)
    return replace(replanned, before=first.before)


def with_upload(plan: Plan, uploaded: Record) -> Plan:
    """The plan as carried out: the predicted upload replaced by IAM's answer (its ID and upload date)."""
    if plan.target is None or plan.target["certificate_id"] is not None:
        return plan
    done = {**uploaded, "status": plan.target["status"]}
    return replace(plan, target=done, after=[done if r is plan.target else r for r in plan.after])


def shows_as_requested(records: list[Record] | None, request: Request) -> bool:
    """Whether a listing of the user's certificates shows the certificate the request names as it asks: listed
    (present, any status), listed with that status (active, inactive), or not listed (absent). The certificate
    is named as the plan named it: by fingerprint when the request has a body, else by ID. records None: the
    user does not exist, so nothing is listed."""
    found = find_target(records or [], request)
    if isinstance(found, Refusal):
        return False
    if request.state == "absent":
        return found is None
    wanted = STATUS_FOR_STATE.get(request.state)
    return found is not None and (wanted is None or found["status"] == wanted)


def writes_done(plan: Plan, user_name: str | None) -> str:
    """What a carried-out plan wrote, for a message: which certificate, and uploaded, set to a status or deleted."""
    done = []
    certificate_id = (plan.target or {}).get("certificate_id")
    for action in plan.actions:
        if action.kind == UPLOAD:
            done.append("uploaded")
        elif action.kind == SET_STATUS:
            done.append(f"set to {action.status}")
        elif action.kind == DELETE:
            done.append("deleted")
            certificate_id = action.certificate_id
    return f"Signing certificate {certificate_id} of {who(user_name)} was {' and '.join(done)}"
