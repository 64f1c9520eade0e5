"""The IAM layer against botocore's Stubber: what moto does not model (pages, caller's own user, error codes)."""

from __future__ import annotations

import datetime

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.certops.aws.plugins.module_utils.connection import client_config, iam_client
from ansible_collections.certops.aws.plugins.module_utils.iam import (
    IamError,
    SigningCertificates,
    invalid_certificate_id,
    invalid_user_name,
)
from tools.certs import make_certificate

UPLOADED = datetime.datetime(2026, 11, 1, 10, 0, tzinfo=datetime.timezone.utc)


def raw_certificate(certificate_id: str, user_name: str = "alice", status: str = "Active", body: str | None = None):
    return {
        "UserName": user_name,
        "CertificateId": certificate_id,
        "CertificateBody": body or make_certificate(certificate_id),
        "Status": status,
        "UploadDate": UPLOADED,
    }


@pytest.fixture
def stubbed():
    client = boto3.client(
        "iam",
        region_name="us-east-1",
        config=client_config({"retries": {"mode": "standard", "max_attempts": 3}}),
    )
    with Stubber(client) as stubber:
        yield SigningCertificates(client), stubber
        stubber.assert_no_pending_responses()


def test_list_follows_every_page(stubbed):
    api, stubber = stubbed
    first, second = raw_certificate("A" * 24), raw_certificate("B" * 24, status="Inactive")
    stubber.add_response(
        "list_signing_certificates",
        {"Certificates": [first], "IsTruncated": True, "Marker": "page-2"},
        {"UserName": "alice"},
    )
    stubber.add_response(
        "list_signing_certificates",
        {"Certificates": [second], "IsTruncated": False},
        {"UserName": "alice", "Marker": "page-2"},
    )
    assert [c["CertificateId"] for c in api.list("alice")] == ["A" * 24, "B" * 24]


def test_omitted_user_name_is_not_sent(stubbed):
    """Real IAM then acts on the caller's own user; moto would refuse the omission."""
    api, stubber = stubbed
    mine = raw_certificate("C" * 24, user_name="caller")
    stubber.add_response("list_signing_certificates", {"Certificates": [mine], "IsTruncated": False}, {})
    stubber.add_response("upload_signing_certificate", {"Certificate": mine}, {"CertificateBody": "PEM"})
    stubber.add_response("update_signing_certificate", {}, {"CertificateId": "C" * 24, "Status": "Inactive"})
    stubber.add_response("delete_signing_certificate", {}, {"CertificateId": "C" * 24})
    assert api.list(None)[0]["UserName"] == "caller"
    assert api.upload(None, "PEM")["CertificateId"] == "C" * 24
    api.set_status(None, "C" * 24, "Inactive")
    api.delete(None, "C" * 24)


def test_throttling_is_retried_by_botocore(iam, inject, backoff_sleeps):
    inject.fail("ListSigningCertificates", "Throttling", 400, times=2, message="Rate exceeded")
    api = SigningCertificates(iam_client({}))
    assert api.list("alice") == []
    assert inject.injected == ["ListSigningCertificates:Throttling"] * 2
    assert len(backoff_sleeps) == 2


def test_throttling_past_the_retries_is_a_clear_error(iam, inject):
    inject.fail("ListSigningCertificates", "Throttling", 400, times=4, message="Rate exceeded")
    api = SigningCertificates(iam_client({}))
    with pytest.raises(IamError) as error:
        api.list("alice")
    assert error.value.code == "Throttling"
    assert "IAM throttled the requests and the retries ran out" in error.value.message
    assert "IAM user 'alice'" in error.value.message


@pytest.mark.parametrize(
    ("operation", "call", "code", "status", "expected"),
    [
        (
            "list_signing_certificates",
            "list",
            "NoSuchEntity",
            404,
            "Could not list the signing certificates of IAM user 'alice': it does not exist",
        ),
        (
            "upload_signing_certificate",
            "upload",
            "DuplicateCertificate",
            409,
            "already uploaded to an IAM user of this account",
        ),
        (
            "upload_signing_certificate",
            "upload",
            "MalformedCertificate",
            400,
            "refused the certificate body as malformed",
        ),
        (
            "upload_signing_certificate",
            "upload",
            "InvalidCertificate",
            400,
            "refused the certificate body as malformed",
        ),
        ("upload_signing_certificate", "upload", "EntityAlreadyExists", 409, "it already exists"),
        ("upload_signing_certificate", "upload", "LimitExceeded", 409, "LimitExceeded"),
        ("update_signing_certificate", "set_status", "NoSuchEntity", 404, "Could not set signing certificate"),
        (
            "delete_signing_certificate",
            "delete",
            "AccessDenied",
            403,
            "the credentials need the permission iam:DeleteSigningCertificate",
        ),
        ("list_signing_certificates", "list", "InvalidClientTokenId", 403, "the AWS credentials were refused"),
        ("list_signing_certificates", "list", "SignatureDoesNotMatch", 403, "the AWS credentials were refused"),
        ("list_signing_certificates", "list", "ExpiredToken", 400, "the AWS credentials were refused"),
    ],
)
def test_errors_become_one_clear_message(stubbed, operation, call, code, status, expected):
    api, stubber = stubbed
    stubber.add_client_error(operation, code, f"server says {code}", status)
    args = {
        "list": ("alice",),
        "upload": ("alice", "PEM"),
        "set_status": ("alice", "D" * 24, "Active"),
        "delete": ("alice", "D" * 24),
    }
    with pytest.raises(IamError) as error:
        getattr(api, call)(*args[call])
    assert error.value.code == code
    assert expected in error.value.message
    assert f"({code}: server says {code})" in error.value.message


@pytest.fixture
def pauses(monkeypatch):
    """The pauses between ConcurrentModification attempts, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr("ansible_collections.certops.aws.plugins.module_utils.iam.time.sleep", recorded.append)
    return recorded


def test_concurrent_modification_is_sent_again(iam, inject, cert, pauses):
    inject.fail("UploadSigningCertificate", "ConcurrentModification", 409, times=2)
    uploaded = SigningCertificates(iam_client({})).upload("alice", cert("again"))
    assert (
        iam.list_signing_certificates(UserName="alice")["Certificates"][0]["CertificateId"] == uploaded["CertificateId"]
    )
    assert pauses == [1.0, 2.0]


def test_persistent_concurrent_modification_is_a_clear_error(iam, inject, cert, pauses):
    inject.fail("UpdateSigningCertificate", "ConcurrentModification", 409, times=3, message="try later")
    with pytest.raises(IamError) as error:
        SigningCertificates(iam_client({})).set_status("alice", "A" * 24, "Inactive")
    assert error.value.code == "ConcurrentModification"
    assert "another request changed the same IAM entity at the same time; run the task again" in error.value.message
    assert inject.injected == ["UpdateSigningCertificate:ConcurrentModification"] * 3 and len(pauses) == 2


def test_persistent_service_failure(iam, inject, cert):
    inject.fail("UploadSigningCertificate", "ServiceFailure", 500, times=4, message="internal error")
    api = SigningCertificates(iam_client({}))
    with pytest.raises(IamError) as error:
        api.upload("alice", cert("x"))
    assert error.value.message.startswith("Could not upload a signing certificate to IAM user 'alice': IAM refused")
    assert "(ServiceFailure: internal error)" in error.value.message
    assert inject.injected == ["UploadSigningCertificate:ServiceFailure"] * 4  # the default: 4 attempts in all
    assert iam.list_signing_certificates(UserName="alice")["Certificates"] == []


def test_missing_credentials(monkeypatch):
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(variable)
    client = boto3.session.Session().client("iam", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(IamError) as error:
        SigningCertificates(client).list("alice")
    assert error.value.code == "NoCredentials"
    assert "no AWS credentials were found" in error.value.message


def test_unreachable_endpoint_names_it():
    config = client_config({"connect_timeout": 1, "retries": {"total_max_attempts": 1}})
    client = boto3.client("iam", region_name="us-east-1", endpoint_url="http://127.0.0.1:9", config=config)
    with pytest.raises(IamError) as error:
        SigningCertificates(client).list("alice")
    assert error.value.code == "Unreachable"
    assert "the IAM endpoint http://127.0.0.1:9 could not be reached" in error.value.message


def test_list_for_users_skips_users_deleted_meanwhile(stubbed):
    api, stubber = stubbed
    stubber.add_response(
        "list_signing_certificates",
        {"Certificates": [raw_certificate("E" * 24)], "IsTruncated": False},
        {"UserName": "alice"},
    )
    stubber.add_client_error(
        "list_signing_certificates", "NoSuchEntity", "gone", 404, expected_params={"UserName": "gone"}
    )
    listed = api.list_for_users(["alice", "gone"], max_concurrency=1)
    assert [c["CertificateId"] for c in listed] == ["E" * 24]


def test_list_for_users_fails_on_other_errors(stubbed):
    api, stubber = stubbed
    stubber.add_client_error("list_signing_certificates", "AccessDenied", "no", 403)
    with pytest.raises(IamError, match="iam:ListSigningCertificates"):
        api.list_for_users(["alice"], max_concurrency=4)


def test_list_users_follows_every_page(stubbed):
    api, stubber = stubbed
    user = {"Path": "/", "UserId": "AIDA" + "X" * 17, "Arn": "arn:aws:iam::123456789012:user/u", "CreateDate": UPLOADED}
    first_page = {"Users": [{**user, "UserName": "u1"}], "IsTruncated": True, "Marker": "m"}
    stubber.add_response("list_users", first_page, {"MaxItems": 1000})
    stubber.add_response(
        "list_users", {"Users": [{**user, "UserName": "u2"}], "IsTruncated": False}, {"MaxItems": 1000, "Marker": "m"}
    )
    assert api.list_user_names() == ["u1", "u2"]


@pytest.mark.parametrize("name", ["bob", "a.b-c_d+e=f,g@h", "x" * 128, "B0b"])
def test_valid_user_names(name):
    assert invalid_user_name(name) is None


@pytest.mark.parametrize("name", ["", "x" * 129, "bad name", "bob!", "bøb", "ボブ", "bob\n", "٣"])
def test_user_names_follow_iams_ascii_pattern(name):
    assert "is not a valid IAM user name" in invalid_user_name(name)


@pytest.mark.parametrize(
    "certificate_id", ["\uff21" * 24, "É" * 24, "A" * 23 + "٣", "A" * 23, "A" * 129, "A" * 23 + "-"]
)
def test_certificate_ids_follow_iams_ascii_pattern(certificate_id):
    assert "is not a valid signing certificate ID" in invalid_certificate_id(certificate_id)
    assert invalid_certificate_id("A" * 24) is None and invalid_certificate_id("a_1" * 40) is None


def test_an_error_after_a_retry_says_the_request_was_resent(stubbed):
    api, stubber = stubbed
    stubber.add_client_error("upload_signing_certificate", "DuplicateCertificate", "dup", 409)
    with pytest.raises(IamError) as first_try:
        api.upload("alice", "body")
    assert first_try.value.code == "DuplicateCertificate" and first_try.value.resent is False

    stubber.add_client_error(
        "delete_signing_certificate",
        "NoSuchEntity",
        "gone",
        404,
        response_meta={"RetryAttempts": 1},
    )
    with pytest.raises(IamError) as after_retry:
        api.delete("alice", "A" * 24)
    assert after_retry.value.code == "NoSuchEntity" and after_retry.value.resent is True
