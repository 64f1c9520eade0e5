"""Bad input, across both modules: each fails with a message naming the problem, before any write.

The role's own bad inputs are exercised end to end (tests/e2e). The `run` fixture also asserts that
no result carries a traceback or "MODULE FAILURE".
"""

from __future__ import annotations

import base64
import re

import pytest

from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate as certificate_module
from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate_info as info_module
from tools.certs import make_certificate, private_key_pem

GOOD = make_certificate("matrix-good")
SECOND = make_certificate("matrix-second")
BIG = make_certificate("matrix-big", extra_bytes=13000)
DER_AS_TEXT = base64.b64decode("".join(GOOD.splitlines()[1:-1])).decode("latin-1")  # holds NUL characters

IP, BODY = "InvalidParameters", "InvalidCertificateBody"
CERTIFICATE_CASES = [
    ({"user_name": "bad name!"}, "user_name 'bad name!' is not a valid IAM user name", IP),
    ({"user_name": ""}, "user_name '' is not a valid IAM user name", IP),
    ({"user_name": "x" * 129}, "is not a valid IAM user name: 1 to 128 characters", IP),
    ({"user_name": ["alice"]}, "user_name", IP),
    ({"user_name": "bøb"}, "user_name 'bøb' is not a valid IAM user name: 1 to 128 characters, ASCII letters", IP),
    ({"user_name": "ボブ"}, "is not a valid IAM user name", IP),
    ({"certificate_id": "short"}, "certificate_id 'short' is not a valid signing certificate ID", IP),
    ({"certificate_id": "A" * 23 + "-"}, "is not a valid signing certificate ID", IP),
    ({"certificate_id": "A" * 129}, "is not a valid signing certificate ID: 24 to 128 characters", IP),
    ({"certificate_id": "\uff21" * 24}, "is not a valid signing certificate ID: 24 to 128 characters, ASCII", IP),
    ({"certificate_body": ""}, "certificate_body is empty", BODY),
    ({"certificate_body": "   \n"}, "certificate_body is empty", BODY),
    ({"certificate_body": "garbage"}, "certificate_body is not PEM", BODY),
    ({"certificate_body": "x" * 16385}, "certificate_body is not PEM", BODY),
    ({"certificate_body": BIG}, "characters long as a PEM block; IAM accepts at most 16384", BODY),
    ({"certificate_body": "".join(GOOD.splitlines()[1:-1])}, "It looks like bare base64", BODY),
    ({"certificate_body": DER_AS_TEXT}, "certificate_body holds a NUL character: no option takes binary data", IP),
    ({"certificate_body": DER_AS_TEXT}, "convert it with 'openssl x509 -inform der", IP),
    ({"certificate_body": GOOD[: len(GOOD) // 2]}, "certificate_body is not complete PEM", BODY),
    ({"certificate_body": GOOD + SECOND}, "certificate_body holds 2 certificates (a chain)", BODY),
    ({"certificate_body": GOOD.replace("MII", "M!I")}, "certificate_body is not valid PEM", BODY),
    ({"certificate_body": private_key_pem()}, "certificate_body contains a private key", BODY),
    ({"certificate_body": GOOD + private_key_pem()}, "certificate_body contains a private key", BODY),
    ({"certificate_body": GOOD.replace("CERTIFICATE", "PUBLIC KEY")}, "holds a PUBLIC KEY block", BODY),
    (
        {"certificate_body": make_certificate("expired", days=-1, starts_in_days=-60)},
        "certificate_body expired on",
        "CertificateExpired",
    ),
    (
        {"certificate_body": make_certificate("future", starts_in_days=3)},
        "certificate_body is not valid before",
        "CertificateNotYetValid",
    ),
    ({"certificate_body": {"pem": GOOD}}, "certificate_body", BODY),
    ({"state": "enabled"}, "value of state must be one of: present, absent, active, inactive, got: enabled", IP),
    ({"state": 1}, "value of state must be one of", IP),
    ({"certificate_body": None}, "one of the following is required: certificate_body, certificate_id", IP),
    ({"certificate_body": None, "certificate_id": None}, "one of the following is required", IP),
    ({"bogus": 1}, "Unsupported parameters for", IP),
    ({"profile": "someone", "access_key": "AKID"}, "pass a profile or access keys, not both", IP),
    ({"retries": 0}, "retries must be between 1 and 20", IP),
    ({"retry_mode": "eager"}, "value of retry_mode must be one of: standard, adaptive, legacy, got: eager", IP),
    ({"aws_config": {"no_such_setting": 1}}, "module: aws_config.no_such_setting. Supported parameters include", IP),
    (
        {"aws_config": {"connect_timeout": "soon"}},
        "argument 'connect_timeout' is of type str found in 'aws_config'",
        IP,
    ),
    (
        {"aws_config": {"connect_timeout": 0}},
        "aws_config.connect_timeout must be more than 0 and at most 3600 seconds, got 0",
        IP,
    ),
    ({"aws_config": {"retries": {"mode": "eager"}}}, "value of mode must be one of: standard, adaptive, legacy", IP),
    ({"aws_config": {"retries": {"total_max_attempts": 99}}}, "aws_config.retries.total_max_attempts must be", IP),
    ({"aws_config": {"proxies": {"https": ["x"]}}}, "aws_config.proxies.https must be a string, got list", IP),
    ({"aws_config": "nonsense"}, "aws_config must be a mapping of its settings, got str", IP),
    ({"aws_config": {"retries": 3}}, "aws_config.retries must be a mapping of its settings, got int", IP),
    ({"endpoint_url": "localhost:5000"}, "endpoint_url 'localhost:5000' is not a URL", IP),
    ({"region": "us_east_1!"}, "region 'us_east_1!' is not a valid AWS region name", IP),
    ({"aws_ca_bundle": "/nonexistent/ca.pem"}, "aws_ca_bundle '/nonexistent/ca.pem' is not a file", IP),
    ({"validate_certs": "perhaps"}, "validate_certs", IP),
]

INFO_CASES = [
    ({"max_concurrency": 0, "all_users": True}, "max_concurrency must be between 1 and 64, got 0", IP),
    ({"max_concurrency": 65, "all_users": True}, "max_concurrency must be between 1 and 64, got 65", IP),
    ({"max_concurrency": "many"}, "max_concurrency", IP),
    ({"expiring_within_days": -1}, "expiring_within_days must be between 0 and 36500, got -1", IP),
    ({"expiring_within_days": 10**10}, "expiring_within_days must be between 0 and 36500, got 10000000000", IP),
    ({"expiring_within_days": "soon"}, "expiring_within_days", IP),
    ({"status": "sleeping"}, "status must be Active or Inactive (in any case), got 'sleeping'", IP),
    ({"status": ""}, "status must be Active or Inactive (in any case), got ''", IP),
    ({"user_name": "a b"}, "user_name 'a b' is not a valid IAM user name", IP),
    ({"user_name": "ālice"}, "user_name 'ālice' is not a valid IAM user name", IP),
    ({"certificate_id": "x"}, "certificate_id 'x' is not a valid signing certificate ID", IP),
    ({"user_name": "alice", "all_users": True}, "parameters are mutually exclusive: user_name|all_users", IP),
    ({"all_users": "every"}, "all_users", IP),
    ({"endpoint_url": "http://"}, "endpoint_url 'http://' is not a URL", IP),
]


def ansible_message(result: dict) -> str:
    """The failure message, with a type named as ansible-core 2.19 and later name it: 2.17 and 2.18 say
    "of type <class 'str'>" where later versions say "of type str"."""
    return re.sub(r"<class '(\w+)'>", r"\1", result["msg"])


@pytest.mark.parametrize(("args", "expected", "code"), CERTIFICATE_CASES)
def test_iam_signing_certificate(iam, run, calls, args, expected, code):
    result = run(certificate_module, {"user_name": "alice", "certificate_body": GOOD, **args})
    assert result["failed"]
    assert expected in ansible_message(result)
    assert result["error_code"] == code
    assert calls.writes == []
    assert iam.list_signing_certificates(UserName="alice")["Certificates"] == []


@pytest.mark.parametrize(("args", "expected", "code"), INFO_CASES)
def test_iam_signing_certificate_info(iam, run, calls, args, expected, code):
    result = run(info_module, args)
    assert result["failed"]
    assert expected in ansible_message(result)
    assert result["error_code"] == code
    assert calls == []
