"""certops.aws.iam_signing_certificate against moto: states, transitions, check/diff mode, costs, errors."""

from __future__ import annotations

import json

import pytest

from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate as module
from tests.unit.conftest import server_certificates
from tools.certs import private_key_pem


@pytest.fixture
def body(cert):
    return cert("alice-1")


def upload_directly(iam, body, user_name="alice", status="Active"):
    """Put a certificate on the server with plain boto3, as someone else would."""
    certificate_id = iam.upload_signing_certificate(UserName=user_name, CertificateBody=body)["Certificate"][
        "CertificateId"
    ]
    if status != "Active":
        iam.update_signing_certificate(UserName=user_name, CertificateId=certificate_id, Status=status)
    return certificate_id


# --- present -------------------------------------------------------------------------------------------------


def test_present_uploads_with_one_list_and_one_write(iam, run, calls, body):
    result = run(module, {"user_name": "alice", "certificate_body": body})
    assert result["changed"] is True
    certificate_id = result["certificate"]["certificate_id"]
    assert server_certificates(iam) == {certificate_id: "Active"}
    assert calls == ["ListSigningCertificates", "UploadSigningCertificate"]
    assert result["certificate"]["status"] == "Active"
    assert result["certificate"]["subject"] == "O=certops,CN=alice-1"
    assert result["certificate"]["days_to_expiry"] == 364
    assert [c["certificate_id"] for c in result["certificates"]] == [certificate_id]


def test_present_twice_is_idempotent_with_one_list_and_no_write(iam, run, calls, body):
    first = run(module, {"user_name": "alice", "certificate_body": body})
    calls.clear()
    second = run(module, {"user_name": "alice", "certificate_body": body})
    assert second["changed"] is False
    assert second["certificate"]["certificate_id"] == first["certificate"]["certificate_id"]
    assert calls == ["ListSigningCertificates"]
    assert len(server_certificates(iam)) == 1


@pytest.mark.parametrize(
    "reformat",
    [
        lambda b: b.replace("\n", "\r\n"),
        lambda b: "\n\n" + b.replace("\n", "\n\n") + "\n\n",
        lambda b: b.strip() + "   ",
    ],
    ids=["crlf", "extra-blank-lines", "trailing-spaces"],
)
def test_same_certificate_differently_formatted_is_not_uploaded_again(iam, run, calls, body, reformat):
    run(module, {"user_name": "alice", "certificate_body": body})
    calls.clear()
    result = run(module, {"user_name": "alice", "certificate_body": reformat(body)})
    assert result["changed"] is False
    assert calls.writes == []
    assert len(server_certificates(iam)) == 1


def test_present_leaves_the_status_of_an_existing_certificate_alone(iam, run, calls, body):
    certificate_id = upload_directly(iam, body, status="Inactive")
    result = run(module, {"user_name": "alice", "certificate_body": body, "state": "present"})
    assert result["changed"] is False
    assert result["certificate"]["status"] == "Inactive"
    assert server_certificates(iam) == {certificate_id: "Inactive"}
    assert calls.writes == []


def test_check_mode_upload_predicts_and_writes_nothing(iam, run, calls, body):
    result = run(module, {"user_name": "alice", "certificate_body": body}, check_mode=True)
    assert result["changed"] is True
    assert result["certificate"]["certificate_id"] is None
    assert result["certificate"]["upload_date"] is None
    assert result["certificate"]["status"] == "Active"
    assert result["certificate"]["subject"] == "O=certops,CN=alice-1"
    assert result["certificate"]["fingerprint_sha256"]
    # The user's certificates, then every user's, to know whether another user holds it (IAM's answer for real).
    assert calls == ["ListSigningCertificates", "ListUsers", "ListSigningCertificates"]
    assert server_certificates(iam) == {}


def test_present_by_id_alone_cannot_upload(iam, run, calls):
    result = run(module, {"user_name": "alice", "certificate_id": "A" * 24})
    assert result["failed"]
    assert result["msg"] == (
        f"IAM user 'alice' has no signing certificate with ID {'A' * 24}; give certificate_body to upload a certificate"
    )
    assert calls.writes == []


# --- active / inactive ---------------------------------------------------------------------------------------


def test_inactive_for_a_new_certificate_uploads_then_deactivates(iam, run, calls, body):
    result = run(module, {"user_name": "alice", "certificate_body": body, "state": "inactive"})
    assert result["changed"] is True
    assert server_certificates(iam) == {result["certificate"]["certificate_id"]: "Inactive"}
    assert calls.writes == ["UploadSigningCertificate", "UpdateSigningCertificate"]
    assert result["certificates"][0]["status"] == "Inactive"


def test_active_to_inactive_to_active_by_body_and_by_id(iam, run, calls, body):
    certificate_id = upload_directly(iam, body)

    result = run(module, {"user_name": "alice", "certificate_body": body, "state": "inactive"})
    assert result["changed"] is True and result["certificate"]["status"] == "Inactive"
    assert server_certificates(iam) == {certificate_id: "Inactive"}
    assert calls == ["ListSigningCertificates", "UpdateSigningCertificate"]

    calls.clear()
    again = run(module, {"user_name": "alice", "certificate_body": body, "state": "inactive"})
    assert again["changed"] is False and calls == ["ListSigningCertificates"]

    calls.clear()
    result = run(module, {"user_name": "alice", "certificate_id": certificate_id, "state": "active"})
    assert result["changed"] is True and result["certificate"]["status"] == "Active"
    assert server_certificates(iam) == {certificate_id: "Active"}
    assert calls == ["ListSigningCertificates", "UpdateSigningCertificate"]

    calls.clear()
    again = run(module, {"user_name": "alice", "certificate_id": certificate_id, "state": "active"})
    assert again["changed"] is False and calls == ["ListSigningCertificates"]


def test_check_mode_deactivation_predicts_and_writes_nothing(iam, run, calls, body):
    certificate_id = upload_directly(iam, body)
    result = run(module, {"user_name": "alice", "certificate_id": certificate_id, "state": "inactive"}, check_mode=True)
    assert result["changed"] is True
    assert result["certificate"]["status"] == "Inactive"
    assert calls.writes == []
    assert server_certificates(iam) == {certificate_id: "Active"}


def test_body_and_id_naming_the_same_certificate(iam, run, body):
    certificate_id = upload_directly(iam, body)
    result = run(
        module, {"user_name": "alice", "certificate_body": body, "certificate_id": certificate_id, "state": "inactive"}
    )
    assert result["changed"] is True
    assert server_certificates(iam) == {certificate_id: "Inactive"}


def test_body_and_id_naming_different_certificates_fail_before_any_write(iam, run, calls, cert, body):
    first = upload_directly(iam, body)
    second = upload_directly(iam, cert("alice-2"))
    calls.clear()
    result = run(module, {"user_name": "alice", "certificate_body": body, "certificate_id": second, "state": "absent"})
    assert result["failed"]
    assert result["msg"].startswith(f"certificate_id {second} and certificate_body name different certificates")
    assert f"IAM user 'alice' has that body as {first}" in result["msg"]
    assert calls.writes == []
    assert len(server_certificates(iam)) == 2


def test_id_of_one_certificate_with_a_body_not_uploaded(iam, run, calls, cert, body):
    certificate_id = upload_directly(iam, body)
    result = run(module, {"user_name": "alice", "certificate_body": cert("other"), "certificate_id": certificate_id})
    assert result["failed"]
    assert "name different certificates" in result["msg"] and "the body has" in result["msg"]
    assert calls.writes == []


def test_id_and_body_both_unknown_cannot_upload(iam, run, calls, body):
    result = run(module, {"user_name": "alice", "certificate_body": body, "certificate_id": "B" * 24})
    assert result["failed"]
    assert "IAM chooses the ID of an upload" in result["msg"]
    assert calls.writes == [] and server_certificates(iam) == {}


# --- absent --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["certificate_body", "certificate_id"])
def test_absent_deletes_then_is_idempotent(iam, run, calls, body, by):
    certificate_id = upload_directly(iam, body)
    identity = {"certificate_body": body, "certificate_id": certificate_id}[by]
    result = run(module, {"user_name": "alice", by: identity, "state": "absent"})
    assert result["changed"] is True
    assert result["certificate"] is None and result["certificates"] == []
    assert server_certificates(iam) == {}
    assert calls == ["ListSigningCertificates", "DeleteSigningCertificate"]

    calls.clear()
    again = run(module, {"user_name": "alice", by: identity, "state": "absent"})
    assert again["changed"] is False and calls == ["ListSigningCertificates"]


def test_absent_in_check_mode_writes_nothing(iam, run, calls, body):
    certificate_id = upload_directly(iam, body)
    result = run(module, {"user_name": "alice", "certificate_id": certificate_id, "state": "absent"}, check_mode=True)
    assert result["changed"] is True and result["certificates"] == []
    assert calls.writes == []
    assert server_certificates(iam) == {certificate_id: "Active"}


def test_absent_for_a_user_that_does_not_exist_is_not_a_change(iam, run, body):
    result = run(module, {"user_name": "nobody", "certificate_body": body, "state": "absent"})
    assert result["changed"] is False and result["certificates"] == []


def test_absent_keeps_other_certificates(iam, run, cert, body):
    keep = upload_directly(iam, cert("keep"))
    upload_directly(iam, body)
    result = run(module, {"user_name": "alice", "certificate_body": body, "state": "absent"})
    assert [c["certificate_id"] for c in result["certificates"]] == [keep]
    assert server_certificates(iam) == {keep: "Active"}


def test_expired_certificate_can_still_be_found_and_deleted(iam, run, cert):
    expired = cert("expired", days=-2, starts_in_days=-30)
    certificate_id = upload_directly(iam, expired)  # moto does not check expiry; real IAM kept it from earlier
    result = run(module, {"user_name": "alice", "certificate_body": expired, "state": "absent"})
    assert result["changed"] is True and server_certificates(iam) == {}
    assert certificate_id


# --- diff ----------------------------------------------------------------------------------------------------


def test_diff_shows_the_users_certificates_before_and_after(iam, run, cert, body):
    existing = upload_directly(iam, cert("existing"))
    result = run(
        module, {"user_name": "alice", "certificate_body": body, "state": "inactive"}, check_mode=True, diff=True
    )
    before, after = result["diff"]["before"]["certificates"], result["diff"]["after"]["certificates"]
    assert [(c["certificate_id"], c["status"]) for c in before] == [(existing, "Active")]
    assert [(c["certificate_id"], c["status"]) for c in after] == [(existing, "Active"), (None, "Inactive")]
    assert set(after[1]) == {"certificate_id", "status", "fingerprint_sha256", "not_after"}
    assert after[1]["fingerprint_sha256"] == result["certificate"]["fingerprint_sha256"]


def test_diff_of_a_no_op_is_equal(iam, run, body):
    upload_directly(iam, body)
    result = run(module, {"user_name": "alice", "certificate_body": body}, diff=True)
    assert result["changed"] is False
    assert result["diff"]["before"] == result["diff"]["after"]


# --- quota ---------------------------------------------------------------------------------------------------


def test_third_certificate_fails_before_any_write_and_names_the_two(iam, run, calls, cert):
    first = upload_directly(iam, cert("one"))
    second = upload_directly(iam, cert("two"), status="Inactive")
    calls.clear()
    result = run(module, {"user_name": "alice", "certificate_body": cert("three")})
    assert result["failed"]
    assert (
        f"IAM user 'alice' already has 2 signing certificates: {first} (Active), {second} (Inactive)" in result["msg"]
    )
    assert "inactive ones count" in result["msg"]
    assert calls == ["ListSigningCertificates"]
    assert server_certificates(iam) == {first: "Active", second: "Inactive"}


def test_quota_check_also_holds_in_check_mode(iam, run, cert):
    upload_directly(iam, cert("one"))
    upload_directly(iam, cert("two"))
    result = run(module, {"user_name": "alice", "certificate_body": cert("three")}, check_mode=True)
    assert result["failed"] and "already has 2 signing certificates" in result["msg"]


# --- bad input: a clear message, before any call ---------------------------------------------------------------


def test_expired_certificate_is_not_uploaded(iam, run, calls, cert):
    result = run(module, {"user_name": "alice", "certificate_body": cert("old", days=-1, starts_in_days=-30)})
    assert result["failed"]
    assert result["msg"].startswith("certificate_body expired on ")
    assert "O=certops,CN=old" in result["msg"]
    assert calls.writes == []


def test_certificate_not_yet_valid_is_not_uploaded(iam, run, calls, cert):
    result = run(module, {"user_name": "alice", "certificate_body": cert("future", days=30, starts_in_days=2)})
    assert result["failed"] and "is not valid before" in result["msg"]
    assert calls.writes == []


def test_private_key_is_refused_and_never_echoed(iam, run, calls, body):
    secret = private_key_pem()
    for candidate in (secret, body + secret):
        result = run(module, {"user_name": "alice", "certificate_body": candidate}, diff=True)
        assert result["failed"] and "contains a private key" in result["msg"]
        output = json.dumps(result)
        key_lines = [line for line in secret.splitlines() if not line.startswith("-----")]
        assert not any(line in output for line in key_lines)
        assert "diff" not in result
    assert calls == []


# --- IAM errors ----------------------------------------------------------------------------------------------


def test_unknown_user_fails_clearly(iam, run, calls, body):
    result = run(module, {"user_name": "nobody", "certificate_body": body})
    assert result["failed"]
    assert result["msg"] == "IAM user 'nobody' does not exist"
    assert result["error_code"] == "NoSuchEntity"
    assert calls.writes == []


def test_profile_and_keys_together_are_refused(iam, run, calls, body):
    result = run(module, {"user_name": "alice", "certificate_body": body, "profile": "p", "access_key": "k"})
    assert result["failed"] and "pass a profile or access keys, not both" in result["msg"]
    assert calls == []


def test_unknown_profile_is_a_clear_failure(iam, run, calls, body, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = run(module, {"user_name": "alice", "certificate_body": body, "profile": "nosuchprofile"})
    assert result["failed"]
    assert result["msg"] == "profile 'nosuchprofile' is not in the AWS config or credentials files"
    assert result["error_code"] == "ProfileNotFound"
    assert calls == []


def test_secret_key_is_not_shown(iam, run, body):
    result = run(
        module,
        {"user_name": "alice", "certificate_body": body, "secret_key": "s3cr3t-value", "session_token": "t0ken-value"},
    )
    output = json.dumps(result)
    assert "s3cr3t-value" not in output and "t0ken-value" not in output


def test_check_mode_says_why_the_id_of_a_predicted_upload_is_null(iam, run, body):
    predicted = run(module, {"user_name": "alice", "certificate_body": body}, check_mode=True)
    assert predicted["certificate"]["certificate_id"] is None
    assert "null because IAM chooses them at upload" in predicted["msg"]
    # The next task of a check-mode run, given that predicted (null) ID, says why it has nothing to go on.
    chained = run(
        module,
        {"user_name": "alice", "certificate_id": predicted["certificate"]["certificate_id"], "state": "inactive"},
        check_mode=True,
    )
    assert chained["failed"] and chained["error_code"] == "InvalidParameters"
    assert chained["msg"].startswith("one of the following is required: certificate_body, certificate_id")
    assert (
        "certificate_id was given as null; in check mode, the ID of a certificate that an earlier task"
        in (chained["msg"])
    )
    assert "identify the certificate by certificate_body instead" in chained["msg"]
    real = run(module, {"user_name": "alice", "certificate_body": body})
    assert "msg" not in real


# --- what a result carries --------------------------------------------------------------------------------------


def test_a_result_carries_no_body_given_as_an_option_and_lists_the_users_certificates_without_bodies(
    iam, run, cert, body
):
    upload_directly(iam, cert("older"), status="Inactive")
    result = run(module, {"user_name": "alice", "certificate_body": body})
    assert result["changed"] is True
    assert "certificate_body" not in result["certificate"]
    assert result["certificate"]["fingerprint_sha256"] and result["certificate"]["certificate_id"]
    assert len(result["certificates"]) == 2
    assert [c for c in result["certificates"] if "certificate_body" in c] == []


def test_a_certificate_found_by_id_alone_is_returned_with_its_body(iam, run, body):
    certificate_id = upload_directly(iam, body)
    result = run(module, {"user_name": "alice", "certificate_id": certificate_id, "state": "inactive"})
    assert result["certificate"]["certificate_body"].strip() == body.strip()
    assert [c for c in result["certificates"] if "certificate_body" in c] == []
