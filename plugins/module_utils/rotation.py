# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rotation plan: from a user's certificates, the new certificate, the threshold and the time, what to do.

Pure: no AWS call. It uses the same matching, quota, validity and expiry rules as the certificate plan
(rules.py). Its promises:
- the new certificate is never kept as the one in use when it has expired or is not valid yet;
- only certificates that are due (expiring within the threshold) are retired, unless the rotation is forced,
  and only after the new certificate is active;
- room in the quota is made by deleting inactive certificates only, expired ones first (nothing can need them), and
  only once the new certificate's validity and the quota are established; a deleted certificate that is still valid
  can be uploaded again if the upload then fails, so who else holds the new certificate need not be known first.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from ansible_collections.certops.aws.plugins.module_utils.certificate import Certificate, expires_within, iso8601
from ansible_collections.certops.aws.plugins.module_utils.rules import (
    ACTIVE,
    INACTIVE,
    LIMIT_EXCEEDED,
    QUOTA_PER_USER,
    ROTATION_BLOCKED,
    Record,
    Refusal,
    by_fingerprint,
    expiring_within,
    oldest_first,
    owner_refusal,
    slots_missing,
    validity_refusal,
)

OLD_CERTIFICATE_ACTIONS = ("deactivate", "delete")


@dataclass(frozen=True)
class RotationPlan:
    """What a rotation does, in this order: make_room (delete), upload or activate the new certificate,
    verify it is active, retire (deactivate or delete).

    due: the new certificate should be (or already is) the user's active one. uploaded: the new certificate
    as the user already has it. blocked: why nothing at all may be done.
    """

    due: bool
    reason: str
    uploaded: Record | None = None
    make_room: tuple[str, ...] = ()
    upload: bool = False
    activate: bool = False
    retire: tuple[str, ...] = ()
    blocked: Refusal | None = None

    @property
    def rotated(self) -> bool:
        """This rotation makes the new certificate the active one."""
        return self.upload or self.activate

    def as_dict(self) -> dict[str, Any]:
        return {
            "due": self.due,
            "reason": self.reason,
            "uploaded": self.uploaded,
            "make_room": list(self.make_room),
            "upload": self.upload,
            "activate": self.activate,
            "rotated": self.rotated,
            "retire": list(self.retire),
            "blocked": self.blocked.message if self.blocked else None,
            "error_code": self.blocked.error_code if self.blocked else None,
        }


def _described(records: list[Record], now: datetime.datetime) -> str:
    def one(rec: Record) -> str:
        expiry = rec.get("not_after")
        if expiry is None:
            return f"{rec['certificate_id']} ({rec['status']}, expires on an unreadable date)"
        verb = "expired" if expiring_within(rec, 0, now) else "expires"
        return f"{rec['certificate_id']} ({rec['status']}, {verb} {expiry})"

    return ", ".join(one(rec) for rec in records)


def _ids(records: list[Record]) -> str:
    return ", ".join(rec["certificate_id"] for rec in records)


def _due_words(records: list[Record], threshold_days: int, now: datetime.datetime) -> str:
    """Why active certificates are due, in words: "the active certificate X expires on D, within the threshold of
    N days" (or "expired on D")."""

    def when(rec: Record) -> str:
        return f"{'expired' if expiring_within(rec, 0, now) else 'expires'} on {rec.get('not_after')}"

    threshold = f"within the threshold of {threshold_days} days"
    if len(records) == 1:
        rec = records[0]
        tail = "" if expiring_within(rec, 0, now) else f", {threshold}"
        return f"the active certificate {rec['certificate_id']} {when(rec)}{tail}"
    each = ", ".join(f"{rec['certificate_id']} {when(rec)}" for rec in records)
    return f"the active certificates {_ids(records)} are due, {threshold} ({each})"


def _not_due_words(records: list[Record], threshold_days: int) -> str:
    """Why the active certificates keep the user off rotation, in words."""
    beyond = f"beyond the threshold of {threshold_days} days"
    unreadable = [rec for rec in records if rec.get("not_after") is None]
    if unreadable:
        one = len(unreadable) == 1
        return (
            f"the expiry date{'' if one else 's'} of the active certificate{'' if one else 's'} {_ids(unreadable)} "
            "cannot be read, so "
            f"{'it is' if one else 'they are'} never taken as due"
        )
    if len(records) == 1:
        rec = records[0]
        return f"the active certificate {rec['certificate_id']} is valid until {rec['not_after']}, {beyond}"
    until = ", ".join(f"{rec['certificate_id']} until {rec['not_after']}" for rec in records)
    return f"the active certificates {_ids(records)} are valid {beyond} ({until})"


def _blocked(reason: str, code: str = ROTATION_BLOCKED, uploaded: Record | None = None) -> RotationPlan:
    return RotationPlan(due=False, reason=reason, uploaded=uploaded, blocked=Refusal(reason, code))


def rotation_plan(
    records: list[Record],
    new: Certificate,
    threshold_days: int,
    now: datetime.datetime,
    force: bool = False,
    owner_elsewhere: str | None = None,
) -> RotationPlan:
    """Decide the rotation of one user to the certificate `new`.

    owner_elsewhere: the other IAM user of the account that holds the new certificate, when that was looked
    up (check mode looks it up before any upload); None when nobody else holds it or it was not looked up.
    """
    ordered = oldest_first(records)
    uploaded = by_fingerprint(ordered, new.fingerprint_sha256)
    others = [r for r in ordered if r is not uploaded]
    active = [r for r in others if r.get("status") == ACTIVE]
    inactive = [r for r in others if r.get("status") != ACTIVE]
    due_active = [r for r in active if force or expiring_within(r, threshold_days, now)]
    retire = tuple(r["certificate_id"] for r in due_active)

    invalid = validity_refusal("the new certificate", new, now)
    if invalid is not None:
        return _blocked(f"cannot rotate: {invalid.message}", invalid.error_code, uploaded)
    if not force and expires_within(new.not_after, threshold_days, now):
        return _blocked(
            f"cannot rotate: the new certificate expires on {iso8601(new.not_after)}, within the threshold of "
            f"{threshold_days} days itself; give a certificate valid for longer, or set force",
            uploaded=uploaded,
        )

    if uploaded is not None and uploaded.get("status") == ACTIVE:
        reason = f"the new certificate is already active as {uploaded['certificate_id']}"
        if due_active:
            reason += ", and " + (
                f"the rotation is forced (force) for {_ids(due_active)}"
                if force
                else _due_words(due_active, threshold_days, now)
            )
        return RotationPlan(due=True, reason=reason, uploaded=uploaded, retire=retire)

    not_due = [r for r in active if r not in due_active]
    if not_due:
        return RotationPlan(due=False, reason=_not_due_words(not_due, threshold_days), uploaded=uploaded)
    if force:
        reason = "the rotation is forced (force)" + ("" if active else ", and the user has no active certificate")
    elif active:
        reason = _due_words(active, threshold_days, now)
    else:
        reason = "the user has no active certificate"

    if uploaded is not None:  # uploaded but not active: activating it needs no room in the quota
        return RotationPlan(due=True, reason=reason, uploaded=uploaded, activate=True, retire=retire)

    missing = slots_missing(others)
    if missing > len(inactive):
        return _blocked(
            f"cannot rotate: the user already has {len(active)} active signing certificates "
            f"({_described(active, now)}) and IAM allows at most {QUOTA_PER_USER} per user, inactive ones "
            "included. The rotation never deletes an active certificate: deactivate or delete one of them first",
            LIMIT_EXCEEDED,
        )
    # What cannot be needed goes first: an expired (or unreadable) certificate before one still valid.
    victims = sorted(inactive, key=lambda r: not _beyond_restore(r, now))[:missing]
    if owner_elsewhere is not None:
        taken = owner_refusal("the new certificate", owner_elsewhere)
        reason = f"cannot rotate: {taken.message}"
        if victims and not any(_beyond_restore(r, now) for r in victims):
            # Check mode knows the holder; the real run does not look it up first and learns it from IAM.
            ids = ", ".join(r["certificate_id"] for r in victims)
            reason += (
                f" (the real run learns it from IAM's refusal of the upload, after deleting {ids} to make room, "
                "and then uploads it again under a new ID)"
            )
        return _blocked(reason, taken.error_code)
    return RotationPlan(
        due=True,
        reason=reason,
        make_room=tuple(r["certificate_id"] for r in victims),
        upload=True,
        retire=retire,
    )


def summary_line(entry: dict[str, Any], check_mode: bool, retire_by_deleting: bool) -> str:
    """One user's result in a line of plain words: what the run did (in check mode: would do), and why."""
    if entry["failed"]:
        return f"FAILED: {entry['msg']}"
    parts = []
    if entry["rotated"]:
        target = entry["new_certificate_id"] or "the new certificate"
        parts.append(f"{'would rotate' if check_mode else 'rotated'} to {target} because {entry['reason']}")
    else:
        again = " again" if entry["retired"] else ""  # the new certificate is active already; old ones retire now
        parts.append(f"{'would not rotate' if check_mode else 'not rotated'}{again} because {entry['reason']}")
    if entry["deleted_to_make_room"]:
        ids = ", ".join(entry["deleted_to_make_room"])
        parts.append(f"{'would delete' if check_mode else 'deleted'} the inactive {ids} to make room")
    if entry["retired"]:
        verb = ("would delete", "deleted") if retire_by_deleting else ("would deactivate", "deactivated")
        parts.append(f"{verb[0] if check_mode else verb[1]} the old {', '.join(entry['retired'])}")
    return "; ".join(parts)


def _beyond_restore(rec: Record, now: datetime.datetime) -> bool:
    """Whether a certificate, once deleted, could not be uploaded again: IAM refuses an expired body, and an
    unreadable one may not be a certificate IAM accepts today."""
    return not rec.get("certificate_body") or expiring_within(rec, 0, now) or rec.get("not_after") is None


def records_after(
    records: list[Record],
    deleted: tuple[str, ...] | list[str],
    new_record: Record | None,
    retired: tuple[str, ...] | list[str],
    retire_by_deleting: bool,
) -> list[Record]:
    """The user's certificates once a rotation has deleted, uploaded or activated, and retired what it did;
    new_record: the new certificate as it is then (None when the rotation did not make it active)."""
    after = []
    for rec in oldest_first(records):
        if rec["certificate_id"] in deleted or (retire_by_deleting and rec["certificate_id"] in retired):
            continue
        if new_record is not None and rec.get("fingerprint_sha256") == new_record.get("fingerprint_sha256"):
            continue
        after.append({**rec, "status": INACTIVE} if rec["certificate_id"] in retired else rec)
    if new_record is not None:
        after.append({**new_record, "status": ACTIVE})
    return after
