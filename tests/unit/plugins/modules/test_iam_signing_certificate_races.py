"""What moto does not model: races with other writers, IAM-only errors, the caller's own user, pagination."""

from __future__ import annotations

import datetime
from unittest import mock

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.certops.aws.plugins.module_utils.certificate import load_certificate
from ansible_collections.certops.aws.plugins.module_utils.connection import client_config
from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate as module
from tests.unit.conftest import server_certificates
from tests.unit.plugins.modules.test_iam_signing_certificate import upload_directly


def test_duplicate_certificate_raced_by_a_concurrent_run_is_present_without_change(iam, run, inject, calls, cert):
    body = cert("raced")
    holder = {}
    inject.fail(
        "UploadSigningCertificate",
        "DuplicateCertificate",
        409,
        before=lambda: holder.setdefault("id", upload_directly(iam, body)),
    )
    result = run(module, {"user_name": "alice", "certificate_body": body})
    assert result["changed"] is False
    assert result["certificate"]["certificate_id"] == holder["id"]
    assert server_certificates(iam) == {holder["id"]: "Active"}
    assert calls == ["ListSigningCertificates", "UploadSigningCertificate", "ListSigningCertificates"]


def test_a_certificate_another_user_holds_fails_naming_that_user_as_check_mode_does(iam, run, inject, cert):
    body = cert("elsewhere")
    iam.create_user(UserName="bob")
    upload_directly(iam, body, user_name="bob")  # moto lets alice have it too; IAM does not
    preview = run(module, {"user_name": "alice", "certificate_body": body}, check_mode=True)
    inject.fail("UploadSigningCertificate", "DuplicateCertificate", 409, message="The same certificate is in use")
    result = run(module, {"user_name": "alice", "certificate_body": body})
    assert result["failed"] and preview["failed"]
    assert result["error_code"] == preview["error_code"] == "DuplicateCertificate"
    assert (
        result["msg"]
        == preview["msg"]
        == (
            "certificate_body is already uploaded to IAM user 'bob', and IAM allows a certificate on only one user of "
            "an account"
        )
    )
    assert server_certificates(iam) == {}


def test_a_duplicate_no_listing_shows_is_looked_for_a_few_seconds_then_refused_saying_so(iam, run, inject, cert, clock):
    inject.fail("UploadSigningCertificate", "DuplicateCertificate", 409, message="The same certificate is in use")
    result = run(module, {"user_name": "alice", "certificate_body": cert("nowhere")})
    assert result["failed"] and result["error_code"] == "DuplicateCertificate"
    assert "lists the certificate on no user of the account after 5 seconds" in result["msg"]
    assert 0 < sum(clock.sleeps) <= 5
    assert server_certificates(iam) == {}


def test_a_duplicate_whose_holder_cannot_be_looked_up_says_so(iam, run, inject, cert, clock):
    inject.fail("UploadSigningCertificate", "DuplicateCertificate", 409, message="The same certificate is in use")
    inject.fail("ListUsers", "AccessDenied", 403)
    result = run(module, {"user_name": "alice", "certificate_body": cert("unknown")})
    assert result["failed"] and result["error_code"] == "DuplicateCertificate"
    assert (
        "lists the certificate on no user of the account after 5 seconds (whether another user holds it is "
        in (result["msg"])
    )
    assert "iam:ListUsers" in result["msg"], result["msg"]
    assert server_certificates(iam) == {}


def test_an_upload_asserted_again_within_iams_consistency_window_is_there_without_change(
    iam, run, inject, lag, calls, cert, clock
):
    body = cert("twice")
    # IAM lists the new certificate only after a while: the second task does not see it, uploads it again, and IAM
    # answers DuplicateCertificate (the emulator's rules do, as IAM).
    lag.consistency_delay = 3
    first = run(module, {"user_name": "alice", "certificate_body": body})
    assert first["changed"]
    second = run(module, {"user_name": "alice", "certificate_body": body})
    assert not second.get("failed"), second
    assert second["changed"] is False
    assert second["certificate"]["certificate_id"] == first["certificate"]["certificate_id"]
    assert server_certificates(iam) == {first["certificate"]["certificate_id"]: "Active"}
    assert lag.answered == {"DuplicateCertificate": 1} and lag.stale_listings > 0
    assert 0 < sum(clock.sleeps) <= 3  # looked again until IAM listed it, 3 seconds after the first upload


def test_limit_exceeded_raced_by_another_writer_names_the_certificates(iam, run, inject, cert):
    others = []
    inject.fail(
        "UploadSigningCertificate",
        "LimitExceeded",
        409,
        before=lambda: others.extend(upload_directly(iam, cert(name)) for name in ("w1", "w2")),
    )
    result = run(module, {"user_name": "alice", "certificate_body": cert("mine")})
    assert result["failed"] and result["error_code"] == "LimitExceeded"
    assert f"already has 2 signing certificates: {others[0]} (Active), {others[1]} (Active)" in result["msg"]
    assert set(server_certificates(iam)) == set(others)


@pytest.mark.parametrize("state", ["active", "inactive"])
def test_certificate_deleted_between_list_and_update_fails_clearly(iam, run, inject, cert, state):
    body = cert("vanishing")
    certificate_id = upload_directly(iam, body, status="Active" if state == "inactive" else "Inactive")
    inject.then(
        "UpdateSigningCertificate",
        lambda: iam.delete_signing_certificate(UserName="alice", CertificateId=certificate_id),
    )
    result = run(module, {"user_name": "alice", "certificate_id": certificate_id, "state": state})
    assert result["failed"] and result["error_code"] == "NoSuchEntity"
    assert result["msg"].startswith(f"Could not set signing certificate {certificate_id} of IAM user 'alice'")
    assert "it does not exist" in result["msg"]


def test_certificate_deleted_between_list_and_delete_satisfies_absent(iam, run, inject, cert):
    body = cert("vanishing")
    certificate_id = upload_directly(iam, body)
    inject.then(
        "DeleteSigningCertificate",
        lambda: iam.delete_signing_certificate(UserName="alice", CertificateId=certificate_id),
    )
    result = run(module, {"user_name": "alice", "certificate_body": body, "state": "absent"})
    assert result["changed"] is False and result["certificates"] == []
    assert server_certificates(iam) == {}


def test_throttled_list_then_success(iam, run, inject, backoff_sleeps, cert):
    inject.fail("ListSigningCertificates", "Throttling", 400, times=2, message="Rate exceeded")
    result = run(module, {"user_name": "alice", "certificate_body": cert("patient")})
    assert result["changed"] is True
    assert len(server_certificates(iam)) == 1
    assert len(backoff_sleeps) == 2


# --- Stubber: the caller's own user and pagination, which moto does not do ------------------------------------

UPLOADED = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)


@pytest.fixture
def stubber():
    client = boto3.client("iam", region_name="us-east-1", config=client_config(None))
    stub = Stubber(client)
    with (
        mock.patch("ansible_collections.certops.aws.plugins.module_utils.module.iam_client", return_value=client),
        stub,
    ):
        yield stub
        stub.assert_no_pending_responses()


def listed(certificate_id, body, user_name="caller", status="Active"):
    return {
        "UserName": user_name,
        "CertificateId": certificate_id,
        "CertificateBody": body,
        "Status": status,
        "UploadDate": UPLOADED,
    }


def test_omitted_user_name_acts_on_the_caller(stubber, run, cert):
    body = cert("mine")
    stubber.add_response("list_signing_certificates", {"Certificates": [], "IsTruncated": False}, {})
    stubber.add_response(
        "upload_signing_certificate", {"Certificate": listed("C" * 24, body)}, {"CertificateBody": body}
    )
    result = run(module, {"certificate_body": body})
    assert result["changed"] is True
    assert result["certificate"]["user_name"] == "caller"
    assert result["certificate"]["certificate_id"] == "C" * 24


def test_every_page_is_read_and_a_no_op_writes_nothing(stubber, run, cert):
    first, second = cert("page-1"), cert("page-2")
    stubber.add_response(
        "list_signing_certificates",
        {"Certificates": [listed("P1" * 12, first, "alice")], "IsTruncated": True, "Marker": "next"},
        {"UserName": "alice"},
    )
    stubber.add_response(
        "list_signing_certificates",
        {"Certificates": [listed("P2" * 12, second, "alice", "Inactive")], "IsTruncated": False},
        {"UserName": "alice", "Marker": "next"},
    )
    result = run(module, {"user_name": "alice", "certificate_body": second, "state": "inactive"})
    assert result["changed"] is False
    assert result["certificate"]["certificate_id"] == "P2" * 12
    assert [c["certificate_id"] for c in result["certificates"]] == ["P1" * 12, "P2" * 12]


def test_a_change_after_two_pages_is_one_write(stubber, run, cert):
    first, second = cert("page-1"), cert("page-2")
    stubber.add_response(
        "list_signing_certificates",
        {"Certificates": [listed("P1" * 12, first, "alice")], "IsTruncated": True, "Marker": "next"},
        {"UserName": "alice"},
    )
    stubber.add_response(
        "list_signing_certificates",
        {"Certificates": [listed("P2" * 12, second, "alice")], "IsTruncated": False},
        {"UserName": "alice", "Marker": "next"},
    )
    stubber.add_response(
        "update_signing_certificate", {}, {"UserName": "alice", "CertificateId": "P1" * 12, "Status": "Inactive"}
    )
    result = run(module, {"user_name": "alice", "certificate_body": first, "state": "inactive"})
    assert result["changed"] is True
    assert result["certificate"]["status"] == "Inactive"
    assert result["certificate"]["fingerprint_sha256"] == load_certificate(first).fingerprint_sha256


def test_iam_status_expired_is_reported_as_is(stubber, run, cert):
    body = cert("reported")
    stubber.add_response(
        "list_signing_certificates",
        {"Certificates": [listed("X" * 24, body, "alice", "Expired")], "IsTruncated": False},
        {"UserName": "alice"},
    )
    result = run(module, {"user_name": "alice", "certificate_body": body})
    assert result["changed"] is False and result["certificate"]["status"] == "Expired"


def test_a_failed_second_write_names_the_upload_it_follows(iam, run, inject, cert):
    inject.fail("UpdateSigningCertificate", "ServiceFailure", 500, times=4)
    result = run(module, {"user_name": "alice", "certificate_body": cert("half"), "state": "inactive"})
    (certificate_id,) = server_certificates(iam)
    assert result["failed"] and result["changed"] is True
    assert result["msg"].startswith(
        f"The certificate was uploaded as {certificate_id} (Active), but then: Could not set"
    )
    assert result["certificate"]["certificate_id"] == certificate_id
    assert server_certificates(iam) == {certificate_id: "Active"}
