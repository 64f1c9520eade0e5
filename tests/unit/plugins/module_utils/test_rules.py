"""The shared rules: the certificate record, matching by fingerprint, the quota, validity and expiry."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.certops.aws.plugins.module_utils.certificate import load_certificate
from ansible_collections.certops.aws.plugins.module_utils.rules import (
    CERTIFICATE_EXPIRED,
    CERTIFICATE_NOT_YET_VALID,
    LIMIT_EXCEEDED,
    by_fingerprint,
    expiring_within,
    quota_refusal,
    record,
    slots_missing,
    validity_refusal,
)
from tools.certs import make_certificate

UPLOADED = datetime.datetime(2026, 11, 1, 10, 0, tzinfo=datetime.timezone.utc)
NOW = datetime.datetime.now(datetime.timezone.utc)


def raw(certificate_id, body, status="Active"):
    return {
        "UserName": "alice",
        "CertificateId": certificate_id,
        "CertificateBody": body,
        "Status": status,
        "UploadDate": UPLOADED,
    }


def test_record_shapes_and_parses():
    body = make_certificate("described", days=30)
    described = record(raw("F" * 24, body), datetime.datetime.now(datetime.timezone.utc))
    assert described["certificate_id"] == "F" * 24
    assert described["upload_date"] == "2026-11-01T10:00:00Z"
    assert described["subject"] == "O=certops,CN=described"
    assert described["days_to_expiry"] == 29
    assert described["certificate_body"] == body  # as IAM stores it
    unparseable = record(raw("G" * 24, "not pem"), NOW)
    assert unparseable["fingerprint_sha256"] is None and unparseable["status"] == "Active"
    assert unparseable["not_after"] is None and unparseable["serial_number_hex"] is None


def test_a_body_stored_with_explanatory_text_is_parsed_for_audits():
    body = make_certificate("stored-with-text", days=4.9)
    described = record(raw("H" * 24, "Bag Attributes\n    friendlyName: x\n" + body), NOW)
    assert described["fingerprint_sha256"] == load_certificate(body).fingerprint_sha256
    assert expiring_within(described, 5, NOW)


def test_matching_is_by_fingerprint():
    body = make_certificate("matched")
    records = [record(raw("A" * 24, make_certificate("other")), NOW), record(raw("B" * 24, body), NOW)]
    assert by_fingerprint(records, load_certificate(body.replace("\n", "\r\n")).fingerprint_sha256) is records[1]


@pytest.mark.parametrize(("held", "uploads", "missing"), [(0, 1, 0), (1, 1, 0), (2, 1, 1), (2, 2, 2), (1, 2, 1)])
def test_slots_missing_counts_every_certificate(held, uploads, missing):
    assert slots_missing([{"status": "Inactive"}] * held, uploads) == missing


def test_quota_refusal_names_every_certificate():
    refusal = quota_refusal(
        "bob", [{"certificate_id": "ID1", "status": "Active"}, {"certificate_id": "ID2", "status": "Inactive"}]
    )
    assert refusal.error_code == LIMIT_EXCEEDED
    assert "IAM user 'bob' already has 2 signing certificates: ID1 (Active), ID2 (Inactive)" in refusal.message
    assert "at most 2 signing certificates per user and inactive ones count" in refusal.message


def test_validity_refusal():
    expired = load_certificate(make_certificate("expired", days=-1, starts_in_days=-30))
    future = load_certificate(make_certificate("future", starts_in_days=2))
    assert validity_refusal("x", expired, NOW).error_code == CERTIFICATE_EXPIRED
    assert validity_refusal("x", future, NOW).error_code == CERTIFICATE_NOT_YET_VALID
    assert validity_refusal("x", load_certificate(make_certificate("fine")), NOW) is None


def test_expiring_within_is_exact_and_never_matches_an_unreadable_expiry():
    assert expiring_within(
        {"not_after": "2026-12-27T12:00:00Z"},
        30,
        datetime.datetime(2026, 11, 27, 12, 0, 0, tzinfo=datetime.timezone.utc),
    )
    assert not expiring_within(
        {"not_after": "2026-12-27T12:00:01Z"},
        30,
        datetime.datetime(2026, 11, 27, 12, 0, 0, tzinfo=datetime.timezone.utc),
    )
    assert not expiring_within({"not_after": None}, 30, NOW)


def test_a_private_key_stored_beside_a_certificate_is_never_returned():
    """IAM may hold what another tool sent: the key is left out, the certificate is parsed and shown alone."""
    from tools.certs import private_key_pem

    body = make_certificate("stored-with-key", days=30)
    key = private_key_pem()
    for stored in (body + key, key + body, body + key.split("-----END")[0]):
        described = record(raw("K" * 24, stored), NOW)
        assert described["fingerprint_sha256"] == load_certificate(body).fingerprint_sha256
        assert described["certificate_body"] == load_certificate(body).pem
        assert "PRIVATE KEY" not in described["certificate_body"]
    assert record(raw("L" * 24, key), NOW)["certificate_body"] is None
