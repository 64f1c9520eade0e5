"""The invariants of the modules, each guarded where it can break: secrets masked whichever check fails first,
null and false as not given, `changed` known by what was sent, one quota message before and after a race."""

from __future__ import annotations

import json

import pytest

from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate as certificate_module
from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate_info as info_module
from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate_rotation as rotation_module
from tests.unit.conftest import server_certificates
from tests.unit.plugins.modules.test_iam_signing_certificate import upload_directly
from tools.certs import make_certificate, private_key_pem

KEY = private_key_pem()
KEY_LINES = [line for line in KEY.splitlines() if not line.startswith("-----")]
GOOD = make_certificate("invariants")


def assert_no_key_material(result):
    output = json.dumps(result)
    assert not [line for line in KEY_LINES if line in output], "private-key material in the task result"


# --- secrets: masked in everything the task returns, whichever check fails first --------------------------------

SECRET_CASES = [
    (certificate_module, {"user_name": "alice", "certificate_body": GOOD + KEY, "certificate_id": "bad"}),
    (certificate_module, {"user_name": "alice", "certificate_body": GOOD + KEY, "state": "enabled"}),
    (certificate_module, {"user_name": "alice", "certificate_body": GOOD + KEY, "bogus": 1}),
    (certificate_module, {"user_name": "alice", "certificate_body": GOOD + KEY, "validate_certs": "perhaps"}),
    (certificate_module, {"user_name": "alice", "certificate_body": GOOD + KEY, "region": "no such region"}),
    (certificate_module, {"user_name": "alice", "certificate_body": GOOD, "state": KEY}),
    (certificate_module, {"user_name": KEY, "certificate_body": GOOD}),
    (certificate_module, {"user_name": "alice", "certificate_id": KEY}),
    (certificate_module, {"user_name": "alice", "certificate_body": GOOD, "endpoint_url": KEY}),
    (certificate_module, {"user_name": "alice", "certificate_body": GOOD, "aws_config": {"read_timeout": KEY}}),
    (certificate_module, {"user_name": "alice", "certificate_body": GOOD, "aws_config": {"user_agent_extra": KEY}}),
    (certificate_module, {"user_name": "alice", "certificate_body": GOOD, "retries": KEY.replace("\n", " ")}),
    (info_module, {"user_name": "alice", "status": KEY}),
    (info_module, {"user_name": KEY, "all_users": True}),
    (info_module, {"max_concurrency": KEY}),
    (rotation_module, {"users": [{"user_name": "alice", "new_certificate": GOOD + KEY}], "threshold_days": -1}),
    (rotation_module, {"users": [{"user_name": "alice", "new_certificate": GOOD + KEY}], "force": "maybe"}),
    (rotation_module, {"users": [{"user_name": "alice", "new_certificate": GOOD + KEY, "extra": 1}]}),
    (rotation_module, {"users": [{"user_name": KEY, "new_certificate": GOOD}]}),
]


@pytest.mark.parametrize(("module", "args"), SECRET_CASES)
def test_private_key_material_is_masked_whichever_check_fails_first(iam, run, calls, module, args):
    result = run(module, args, diff=True)
    assert result["failed"] and result["error_code"]
    assert_no_key_material(result)
    assert calls.writes == []


def test_a_key_folded_onto_one_line_is_masked_too(iam, run):
    folded = (GOOD + KEY).replace("\n", " ")
    result = run(certificate_module, {"user_name": "alice", "certificate_body": folded, "state": "enabled"})
    assert result["failed"]
    assert_no_key_material(result)


# --- an option given as null or false counts as not given -------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        {"user_name": "alice", "all_users": False},
        {"user_name": "alice", "all_users": "false"},
        {"user_name": None, "all_users": True},
        {"user_name": "alice", "certificate_id": None, "status": None, "expiring_within_days": None},
    ],
)
def test_null_and_false_are_not_given_for_the_info_module(iam, run, args):
    result = run(info_module, args)
    assert not result.get("failed"), result["msg"]


def test_null_options_of_the_certificate_module_take_their_defaults(iam, run, calls):
    result = run(
        certificate_module,
        {"user_name": "alice", "certificate_body": GOOD, "certificate_id": None, "state": None, "profile": None},
    )
    assert result["changed"] is True and result["certificate"]["status"] == "Active"  # state: present
    assert calls.writes == ["UploadSigningCertificate"]


def test_a_null_secret_key_falls_back_to_the_environment(iam, run):
    result = run(certificate_module, {"user_name": "alice", "certificate_body": GOOD, "secret_key": None})
    assert result["changed"] is True


# --- changed: this task's write took effect, known by what was sent ---------------------------------------------


def test_an_upload_whose_answer_was_lost_is_a_change(iam, run, inject, calls, cert):
    body = cert("lost-answer")
    applied = []
    # The first attempt reaches IAM and takes effect, but its answer is lost (a 500): botocore sends it again,
    # and IAM answers the second attempt with DuplicateCertificate.
    inject.fail(
        "UploadSigningCertificate",
        "InternalFailure",
        500,
        before=lambda: applied.append(upload_directly(iam, body)),
    )
    inject.fail("UploadSigningCertificate", "DuplicateCertificate", 409)
    result = run(certificate_module, {"user_name": "alice", "certificate_body": body})
    assert result["changed"] is True
    assert result["certificate"]["certificate_id"] == applied[0]
    assert server_certificates(iam) == {applied[0]: "Active"}


def test_an_upload_refused_at_once_as_a_duplicate_is_not_this_tasks_change(iam, run, inject, cert):
    body = cert("raced")
    holder = []
    inject.fail(
        "UploadSigningCertificate",
        "DuplicateCertificate",
        409,
        before=lambda: holder.append(upload_directly(iam, body)),
    )
    result = run(certificate_module, {"user_name": "alice", "certificate_body": body})
    assert result["changed"] is False and server_certificates(iam) == {holder[0]: "Active"}


def test_a_delete_whose_answer_was_lost_is_a_change(iam, run, inject, cert):
    body = cert("deleted-twice")
    certificate_id = upload_directly(iam, body)
    inject.fail(
        "DeleteSigningCertificate",
        "InternalFailure",
        500,
        before=lambda: iam.delete_signing_certificate(UserName="alice", CertificateId=certificate_id),
    )
    result = run(certificate_module, {"user_name": "alice", "certificate_id": certificate_id, "state": "absent"})
    assert result["changed"] is True and server_certificates(iam) == {}


# --- one quota message, before a race and after it ---------------------------------------------------------------


def test_the_quota_message_after_a_race_is_the_one_before_it(iam, run, inject, cert):
    first, second = cert("w1"), cert("w2")
    ids = []
    inject.fail(
        "UploadSigningCertificate",
        "LimitExceeded",
        409,
        before=lambda: ids.extend(upload_directly(iam, body) for body in (first, second)),
    )
    raced = run(certificate_module, {"user_name": "alice", "certificate_body": cert("mine")})
    before_any_write = run(certificate_module, {"user_name": "alice", "certificate_body": cert("mine")})
    assert raced["error_code"] == before_any_write["error_code"] == "LimitExceeded"
    assert raced["msg"] == before_any_write["msg"]
    assert f"{ids[0]} (Active), {ids[1]} (Active)" in raced["msg"]
