"""Bad input, across both modules: each fails with a message naming the problem, before any write.

The role's own bad inputs are exercised end to end (tests/e2e). The `run` fixture also asserts that
no result carries a traceback or "MODULE FAILURE".
"""

from __future__ import annotations

import base64

import pytest
from ansible.module_utils.ansible_release import __version__ as ansible_core_version

from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate as certificate_module
from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate_info as info_module
from tools.certs import make_certificate, private_key_pem

GOOD = make_certificate("matrix-good")
SECOND = make_certificate("matrix-second")
DER_AS_TEXT = base64.b64decode("".join(GOOD.splitlines()[1:-1])).decode("latin-1")  # holds NUL characters
# Known failure, reported for plugins/module_utils/module.py: ansible-core 2.20 and later write the module's
# arguments to syslog before the module validates them, and a NUL character there fails the task with "Failed to
# log to syslog (embedded null character)", a message that names neither the option nor the problem. Strict: once
# the module escapes what it logs, this case passes and the mark must go.
NUL_FAILS_IN_SYSLOG = pytest.mark.xfail(
    tuple(int(part) for part in ansible_core_version.split(".")[:2]) >= (2, 20),
    reason="ansible-core 2.20+ fails in syslog logging on a NUL character before the module's own validation",
    strict=True,
)

CERTIFICATE_CASES = [
    ({"user_name": "bad name!"}, "user_name 'bad name!' is not a valid IAM user name"),
    ({"user_name": ""}, "user_name '' is not a valid IAM user name"),
    ({"user_name": "x" * 129}, "is not a valid IAM user name: 1 to 128 characters"),
    ({"user_name": ["alice"]}, "user_name"),
    ({"certificate_id": "short"}, "certificate_id 'short' is not a valid signing certificate ID"),
    ({"certificate_id": "A" * 23 + "-"}, "is not a valid signing certificate ID"),
    ({"certificate_id": "A" * 129}, "is not a valid signing certificate ID: 24 to 128 characters"),
    ({"certificate_body": ""}, "certificate_body is empty"),
    ({"certificate_body": "   \n"}, "certificate_body is empty"),
    ({"certificate_body": "garbage"}, "certificate_body is not PEM"),
    ({"certificate_body": "x" * 16385}, "certificate_body is 16385 characters long; IAM accepts at most 16384"),
    ({"certificate_body": "".join(GOOD.splitlines()[1:-1])}, "certificate_body is not PEM"),
    pytest.param({"certificate_body": DER_AS_TEXT}, "certificate_body is not PEM", marks=NUL_FAILS_IN_SYSLOG),
    ({"certificate_body": GOOD[: len(GOOD) // 2]}, "certificate_body is not complete PEM"),
    ({"certificate_body": GOOD + SECOND}, "certificate_body holds 2 certificates (a chain)"),
    ({"certificate_body": GOOD.replace("MII", "M!I")}, "certificate_body is not valid PEM"),
    ({"certificate_body": private_key_pem()}, "certificate_body contains a private key"),
    ({"certificate_body": GOOD + private_key_pem()}, "certificate_body contains a private key"),
    ({"certificate_body": GOOD.replace("CERTIFICATE", "PUBLIC KEY")}, "holds a PUBLIC KEY block"),
    ({"certificate_body": make_certificate("expired", days=-1, starts_in_days=-60)}, "certificate_body expired on"),
    ({"certificate_body": make_certificate("future", starts_in_days=3)}, "certificate_body is not valid before"),
    ({"certificate_body": {"pem": GOOD}}, "certificate_body"),
    ({"state": "enabled"}, "value of state must be one of: present, absent, active, inactive, got: enabled"),
    ({"state": 1}, "value of state must be one of"),
    ({"certificate_body": None}, "one of the following is required: certificate_body, certificate_id"),
    ({"bogus": 1}, "Unsupported parameters for"),
    ({"profile": "someone", "access_key": "AKID"}, "pass a profile or access keys, not both"),
    ({"retries": 0}, "retries must be between 1 and 20"),
    ({"retry_mode": "eager"}, "value of retry_mode must be one of: standard, adaptive, legacy, got: eager"),
    ({"aws_config": {"no_such_setting": 1}}, "aws_config has an option botocore does not know"),
    ({"validate_certs": "perhaps"}, "validate_certs"),
]

INFO_CASES = [
    ({"max_concurrency": 0, "all_users": True}, "max_concurrency must be between 1 and 64, got 0"),
    ({"max_concurrency": 65, "all_users": True}, "max_concurrency must be between 1 and 64, got 65"),
    ({"max_concurrency": "many"}, "max_concurrency"),
    ({"expiring_within_days": -1}, "expiring_within_days must be 0 or more, got -1"),
    ({"expiring_within_days": "soon"}, "expiring_within_days"),
    ({"status": "active"}, "value of status must be one of: Active, Inactive, got: active"),
    ({"user_name": "a b"}, "user_name 'a b' is not a valid IAM user name"),
    ({"certificate_id": "x"}, "certificate_id 'x' is not a valid signing certificate ID"),
    ({"user_name": "alice", "all_users": True}, "parameters are mutually exclusive: user_name|all_users"),
    ({"all_users": "every"}, "all_users"),
]


@pytest.mark.parametrize(("args", "expected"), CERTIFICATE_CASES)
def test_iam_signing_certificate(iam, run, calls, args, expected):
    result = run(certificate_module, {"user_name": "alice", "certificate_body": GOOD, **args})
    assert result["failed"]
    assert expected in result["msg"]
    assert calls.writes == []
    assert iam.list_signing_certificates(UserName="alice")["Certificates"] == []


@pytest.mark.parametrize(("args", "expected"), INFO_CASES)
def test_iam_signing_certificate_info(iam, run, calls, args, expected):
    result = run(info_module, args)
    assert result["failed"]
    assert expected in result["msg"]
    assert calls == []
