# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules both planners share, each written once: the certificate record, matching, quota, validity, expiry.

Pure: no AWS call, no Ansible. A record is a user's certificate as the modules return it (snake_case keys,
ISO 8601 UTC dates, fields parsed from the body, None where the body cannot be parsed).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from ansible_collections.certops.aws.plugins.module_utils.certificate import (
    EMPTY_FIELDS,
    Certificate,
    contains_private_key,
    expires_within,
    iso8601,
    parse_iso8601,
    try_parse_certificate,
)

QUOTA_PER_USER = 2
ACTIVE = "Active"
INACTIVE = "Inactive"

# error_code values the collection sets itself; any other error_code is IAM's (or botocore's) own.
INVALID_PARAMETERS = "InvalidParameters"
INVALID_CERTIFICATE_BODY = "InvalidCertificateBody"
CERTIFICATE_EXPIRED = "CertificateExpired"
CERTIFICATE_NOT_YET_VALID = "CertificateNotYetValid"
CERTIFICATE_MISMATCH = "CertificateMismatch"
NO_SUCH_ENTITY = "NoSuchEntity"  # IAM's code, also set before any call
LIMIT_EXCEEDED = "LimitExceeded"  # IAM's code, also set by the quota check before any write
DUPLICATE_CERTIFICATE = "DuplicateCertificate"  # IAM's code, also set when the account scan finds the owner
ROTATION_BLOCKED = "RotationBlocked"
NOT_VISIBLE = "NotVisible"  # the writes took effect, but IAM did not list them as requested in time

Record = dict[str, Any]


@dataclass(frozen=True)
class Refusal:
    """Why a plan cannot be carried out; nothing is written then."""

    message: str
    error_code: str


def not_given(value: Any) -> bool:
    """An option that counts as not given: missing, null, false, or an empty string (what a template that found
    nothing gives)."""
    return value is None or value is False or value == ""


def user_name_of(value: Any) -> str | None:
    """A user name as an entry gives it: a string, or the name a number spells (a name templated from digits);
    None for anything else (not given, a boolean, a mapping...)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value else None


def same_user(first: str | None, second: str | None) -> bool:
    """IAM user names are unique without regard to case: Bob and bob are the same user."""
    return (first or "").casefold() == (second or "").casefold()


def owner_refusal(what: str, owner: str) -> Refusal:
    """The certificate is another user's: IAM allows a certificate on one user of an account only."""
    return Refusal(
        f"{what} is already uploaded to IAM user {owner!r}, and IAM allows a certificate on only one user of "
        "an account",
        DUPLICATE_CERTIFICATE,
    )


def who(user_name: str | None) -> str:
    return f"IAM user {user_name!r}" if user_name else "the calling IAM user"


def no_such_user(user_name: str | None) -> Refusal:
    return Refusal(f"{who(user_name)} does not exist", NO_SUCH_ENTITY)


def record(raw: dict[str, Any], now: datetime.datetime) -> Record:
    """An IAM SigningCertificate (API shape) as the modules return it."""
    upload_date = raw.get("UploadDate")
    if isinstance(upload_date, datetime.datetime):
        upload_date = iso8601(upload_date)
    body = raw.get("CertificateBody")
    parsed = try_parse_certificate(body)
    if body and contains_private_key(body):
        # Never returned: IAM holds a private key beside the certificate (another tool sent it); the certificate
        # alone is shown.
        body = parsed.pem if parsed else None
    described = {
        "certificate_id": raw.get("CertificateId"),
        "user_name": raw.get("UserName"),
        "status": raw.get("Status"),
        "upload_date": upload_date,
        "certificate_body": body,
    }
    described.update(parsed.fields(now) if parsed else EMPTY_FIELDS)
    return described


def predicted_record(user_name: str | None, certificate: Certificate, now: datetime.datetime) -> Record:
    """The record of a certificate to be uploaded: IAM chooses its ID and upload date."""
    return {
        "certificate_id": None,
        "user_name": user_name,
        "status": ACTIVE,
        "upload_date": None,
        "certificate_body": certificate.pem,
        **certificate.fields(now),
    }


def without_body(rec: Record | None) -> Record | None:
    """A record without its PEM body: where the body is the caller's own option value, or one of many (a result
    that repeated bodies would be mostly base64, and each AWX job event carries the whole result)."""
    return None if rec is None else {key: value for key, value in rec.items() if key != "certificate_body"}


DIFF_KEYS = ("certificate_id", "status", "fingerprint_sha256", "not_after")


def diff_view(records: list[Record]) -> list[dict[str, Any]]:
    """What diff mode shows of a user's certificates: ID, status, fingerprint, expiry."""
    return [{key: rec.get(key) for key in DIFF_KEYS} for rec in records]


# Sorts before any ID (a diff prints keys sorted): the new certificate comes first, and each other certificate's
# lines keep their place, so that a retired certificate's status lines up with its old status.
NOT_UPLOADED_YET = "(new certificate, not uploaded yet)"


def diff_by_id(records: list[Record]) -> dict[str, dict[str, Any]]:
    """diff_view keyed by certificate ID, so that a diff lines each certificate up with itself rather than with
    whatever took its place in a list; a certificate check mode predicts an upload of has no ID yet."""
    # upload_date is unique to each certificate and sorts last: a diff of the JSON (keys sorted) then lines up a
    # retired certificate's status with its old status, not with the status of the new certificate below it.
    keys = (*DIFF_KEYS[1:], "upload_date")
    return {rec.get("certificate_id") or NOT_UPLOADED_YET: {key: rec.get(key) for key in keys} for rec in records}


def oldest_first(records: list[Record]) -> list[Record]:
    return sorted(records, key=lambda r: r.get("upload_date") or "")


def by_fingerprint(records: list[Record], fingerprint: str) -> Record | None:
    """Rule 1 of the design: a certificate's identity is the SHA-256 of its DER, never its text."""
    return next((r for r in records if r.get("fingerprint_sha256") == fingerprint), None)


def by_id(records: list[Record], certificate_id: str) -> Record | None:
    return next((r for r in records if r.get("certificate_id") == certificate_id), None)


def slots_missing(records: list[Record], uploads: int = 1) -> int:
    """How many certificates must go before `uploads` more fit in IAM's quota (inactive ones count)."""
    return max(0, len(records) + uploads - QUOTA_PER_USER)


def quota_refusal(user_name: str | None, records: list[Record]) -> Refusal:
    """The user's quota is full: the refusal names the certificates that fill it."""
    held = ", ".join(f"{r['certificate_id']} ({r['status']})" for r in records)
    return Refusal(
        f"{who(user_name)} already has {len(records)} signing certificates: {held}. "
        f"IAM allows at most {QUOTA_PER_USER} signing certificates per user and inactive ones count; "
        "delete one (state: absent) before uploading another",
        LIMIT_EXCEEDED,
    )


def validity_refusal(what: str, certificate: Certificate, now: datetime.datetime) -> Refusal | None:
    """Why a certificate cannot be uploaded or kept as the one in use at `now`: expired, or not yet valid."""
    if certificate.not_after < now:
        return Refusal(
            f"{what} expired on {iso8601(certificate.not_after)} ({certificate.subject}); IAM refuses expired "
            "certificates. An uploaded expired certificate can still be deactivated or deleted",
            CERTIFICATE_EXPIRED,
        )
    if certificate.not_before > now:
        return Refusal(
            f"{what} is not valid before {iso8601(certificate.not_before)} ({certificate.subject}); "
            "IAM refuses certificates that are not valid yet",
            CERTIFICATE_NOT_YET_VALID,
        )
    return None


def not_after(rec: Record) -> datetime.datetime | None:
    return parse_iso8601(rec.get("not_after"))


def expiring_within(rec: Record, days: int, now: datetime.datetime) -> bool:
    """Whether a certificate expires within `days` days (not_after <= now + days), already expired included.

    The same rule decides the info module's expiring_within_days and whether a rotation is due. A certificate
    whose expiry cannot be read never matches: nothing is retired on a guess.
    """
    end = not_after(rec)
    return end is not None and expires_within(end, days, now)
