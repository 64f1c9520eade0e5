"""Adversarial review of issue 10 (and the fleet rotation of issue 12): one test per broken promise.

Every test here failed on the code as reviewed (the docstring's "Broken:" says how) and guards the promise
since it was fixed. They run in process against moto (the unit fixtures); the end-to-end
findings are in tests/e2e/test_review_e2e_findings.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from unittest import mock

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate as certificate_module
from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate_info as info_module
from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate_rotation as rotation_module
from tests.unit.conftest import server_certificates
from tests.unit.plugins.modules.test_iam_signing_certificate import upload_directly
from tools.certs import make_certificate, private_key_pem

REPO = Path(__file__).resolve().parents[2]
KEY = private_key_pem()
GOOD = make_certificate("review")
# The private half of the key: its last full base64 lines (the first lines encode the public modulus, which a
# certificate made with the same key legitimately shows).
PRIVATE_LINES = [line for line in KEY.splitlines() if not line.startswith("-----") and len(line) >= 32][-8:]
# A key as it sits in a JSON document (a service-account file, an API answer) and is pasted into YAML in single
# quotes: the line breaks are the two characters backslash and n.
JSON_ESCAPED_KEY = KEY.replace("\n", "\\n")
# A key whose END line was lost when it was copied.
TRUNCATED_KEY = KEY.split("-----END")[0]
OUTCOME = ("user_name", "rotated", "retired", "deleted_to_make_room", "failed", "changed")


def leaked(result) -> list[str]:
    output = json.dumps(result)
    return [line for line in PRIVATE_LINES if line in output]


def rotate(run, users, check_mode=False, **options):
    return run(rotation_module, {"users": users, "verify_delay": 0, **options}, check_mode=check_mode)


def comparable(result):
    return [{key: entry[key] for key in OUTCOME} for entry in result["results"]]


# --- 1. secrets ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "args"),
    [
        (certificate_module, {"user_name": "alice", "certificate_id": JSON_ESCAPED_KEY}),
        (info_module, {"user_name": JSON_ESCAPED_KEY}),
        (certificate_module, {"user_name": "alice", "certificate_body": GOOD, "region": JSON_ESCAPED_KEY}),
        (certificate_module, {"user_name": "alice", "certificate_body": GOOD, "profile": JSON_ESCAPED_KEY}),
        (rotation_module, {"users": [{"user_name": JSON_ESCAPED_KEY, "new_certificate": GOOD}]}),
    ],
    ids=["certificate_id", "info-user_name", "region", "profile", "rotation-user_name"],
)
def test_review_a_json_escaped_private_key_is_never_echoed(iam, run, calls, module, args):
    """Promise: a private key in any option is masked in everything the task returns, whichever check fails.
    Broken: a key whose line breaks are the characters '\\n' (as copied from JSON) contains 'PRIVATE KEY', but
    only the whole text and the BEGIN..END payload as one chunk are masked; the messages quote the value with
    repr(), which doubles the backslashes, so the whole key is printed in `msg`."""
    result = run(module, args)
    assert result["failed"]
    assert calls.writes == []
    assert leaked(result) == [], result["msg"][:300]


@pytest.mark.parametrize(
    ("module", "args"),
    [
        (certificate_module, {"user_name": "alice", "certificate_body": GOOD, "region": TRUNCATED_KEY}),
        (certificate_module, {"user_name": TRUNCATED_KEY, "certificate_body": GOOD}),
        (certificate_module, {"user_name": "alice", "certificate_body": GOOD, "endpoint_url": TRUNCATED_KEY}),
    ],
    ids=["region", "user_name", "endpoint_url"],
)
def test_review_a_private_key_without_its_end_line_is_never_echoed(iam, run, module, args):
    """Promise: any option value that carries private-key material is masked. Broken: a key block whose END line
    is missing (a truncated paste) matches no BEGIN..END pair, so only the whole text is masked; the message
    quotes repr(value) and every line of the key shows."""
    result = run(module, args)
    assert result["failed"]
    assert leaked(result) == [], result["msg"][:300]


@pytest.mark.parametrize(
    ("module", "args"),
    [
        (
            certificate_module,
            {"user_name": "alice", "certificate_body": GOOD, "aws_config": {"proxies": {KEY: "http://127.0.0.1:9"}}},
        ),
        (certificate_module, {"user_name": "alice", "certificate_body": GOOD, KEY: 1}),
        (rotation_module, {"users": [{"user_name": "alice", "new_certificate": GOOD, KEY: 1}]}),
    ],
    ids=["aws_config.proxies-key-success", "unknown-option-name", "users-entry-key"],
)
def test_review_a_private_key_used_as_a_mapping_key_is_never_echoed(iam, run, module, args):
    """Promise: a private key inside lists/dicts of any option is masked. Broken: AwsModule._strings() looks at
    dict values only, never at keys; a key pasted as a mapping key is returned verbatim in
    invocation.module_args (even on success, for aws_config.proxies) or in 'Unsupported parameters ...: <key>'."""
    result = run(module, args)
    assert leaked(result) == []


# --- 4. PEM handling: huge inputs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        "certificate.parse_certificate('-----BEGIN CERTIFICATE-----\\n' * 8000)",
        "certificate.private_key_fragments('-----BEGIN PRIVATE KEY-----\\n' * 8000)",
    ],
    ids=["body-validation", "masking-before-validation"],
)
def test_review_pem_parsing_is_linear_in_the_input(call):
    """Promise: bad bodies fail before any call with a clear message (huge inputs included), and masking comes
    first. Broken: the RFC 7468 block regex `-----BEGIN (...)-----\\n(.*?)-----END \\1-----` backtracks
    quadratically on unmatched BEGIN lines: 8000 of them (224 kB) take about 40 s to refuse, and the same
    regex runs in _load_params for any option containing 'PRIVATE KEY' (about 50 s) before Ansible's own
    validation; 1 MB takes many minutes. Run in a subprocess so the test fails after 10 s instead of hanging."""
    program = textwrap.dedent(
        f"""
        import tests.conftest  # makes ansible_collections importable
        from ansible_collections.certops.aws.plugins.module_utils import certificate
        try:
            {call}
        except certificate.CertificateError:
            pass
        """
    )
    started = time.monotonic()
    try:
        subprocess.run([sys.executable, "-c", program], cwd=REPO, check=True, timeout=10, capture_output=True)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{call} did not finish within 10 s")
    assert time.monotonic() - started < 10


# --- 5. null and false count as not given -----------------------------------------------------------------------


def test_review_false_counts_as_not_given_for_string_options(iam, run, calls, cert):
    """Promise (rule 8, issue 10): an option given as false counts as not given in every required-one-of and
    mutually-exclusive rule, templated values included. Broken: Ansible converts false to the string 'False'
    for str options before AwsModule.is_given() looks, so `user_name: "{{ false }}"` + all_users is refused as
    mutually exclusive, `certificate_body: false` is parsed as a body, `certificate_id: false` is checked as an
    ID (reproduced the same with "{{ false }}" in a real ansible-playbook run)."""
    body = cert("false-options")
    certificate_id = upload_directly(iam, body)

    listing = run(info_module, {"user_name": False, "all_users": True})
    assert not listing.get("failed"), listing["msg"]

    deleted = run(
        certificate_module,
        {"user_name": "alice", "certificate_body": False, "certificate_id": certificate_id, "state": "absent"},
    )
    assert not deleted.get("failed"), deleted["msg"]
    assert server_certificates(iam) == {}

    uploaded = run(certificate_module, {"user_name": "alice", "certificate_body": body, "certificate_id": False})
    assert not uploaded.get("failed"), uploaded["msg"]


# --- 6. connection options ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "environment", "named"),
    [
        ({"endpoint_url": "http://[::1"}, {}, "endpoint_url"),
        ({"endpoint_url": "http://127.0.0.1:99999"}, {}, "endpoint_url"),
        ({"endpoint_url": "http://127.0.0.1:port"}, {}, "endpoint_url"),
        ({}, {"AWS_URL": "http://127.0.0.1:99999"}, "AWS_URL"),
        ({}, {"AWS_ENDPOINT_URL_IAM": "http://127.0.0.1:99999"}, "AWS_ENDPOINT_URL_IAM"),
    ],
    ids=["ipv6-unclosed", "port-out-of-range", "port-not-a-number", "AWS_URL", "AWS_ENDPOINT_URL_IAM"],
)
def test_review_a_malformed_endpoint_fails_with_a_message_not_a_traceback(iam, run, calls, args, environment, named):
    """Promise: every malformed endpoint_url (task or environment) fails before any call with a message that
    names it, never a traceback. Broken: urllib.parse raises ValueError ('Invalid IPv6 URL', 'Port out of range
    0-65535', 'Port could not be cast to integer value') in check_connection_options or, for the port, later in
    botocore's signer; nothing catches it, so the module dies with a traceback (MODULE FAILURE)."""
    with mock.patch.dict(os.environ, environment):
        result = run(info_module, {"user_name": "alice", **args})
    assert result["failed"] and result["error_code"] == "InvalidParameters"
    assert named in result["msg"]
    assert calls == []


@pytest.mark.parametrize(
    ("args", "environment", "named"),
    [
        ({}, {"AWS_ENDPOINT_URL_IAM": "ftp://127.0.0.1:9"}, "AWS_ENDPOINT_URL_IAM"),
        ({"aws_config": {"proxies": {"http": "not a url"}}}, {}, "aws_config.proxies"),
        ({"aws_config": {"connect_timeout": "inf"}}, {}, "aws_config.connect_timeout"),
    ],
    ids=["AWS_ENDPOINT_URL_IAM-ftp", "proxies-not-a-url", "connect_timeout-inf"],
)
def test_review_malformed_connection_values_are_refused_before_any_call(iam, run, calls, args, environment, named):
    """Promise (aws_config doc: 'each is checked before any call and a wrong one fails with a message that
    names it'): Broken: these reach the first request and fail with botocore's exception text and an
    error_code of HTTPClientError, e.g. 'An HTTP Client raised an unhandled exception: Not supported URL
    scheme ftp' / 'Failed to parse: Host 'not a url' ...' / 'timestamp out of range for platform time_t'."""
    environment = {"AWS_ENDPOINT_URL_IAM": "http://127.0.0.1:9", **environment}
    with mock.patch.dict(os.environ, environment):
        result = run(info_module, {"user_name": "alice", **args})
    assert result["failed"] and result["error_code"] == "InvalidParameters", result["msg"]
    assert named in result["msg"]
    assert calls == []


@pytest.mark.parametrize(
    "aws_config",
    [[1, 2], 5, {"retries": [1]}, {"retries": 3}, ["connect_timeout"]],
    ids=["list", "int", "retries-list", "retries-int", "list-of-str"],
)
def test_review_aws_config_of_the_wrong_shape_fails_naming_it(iam, run, calls, aws_config):
    """Promise: every malformed aws_config value fails with a message naming the option, never a traceback.
    Broken: a list or a number where aws_config (or aws_config.retries) must be a dict crashes Ansible's own
    sub-option validation with 'TypeError: argument of type 'int' is not iterable' (a traceback); a list of
    strings fails with 'dictionary requested, could not parse JSON or key=value', naming no option."""
    result = run(info_module, {"user_name": "alice", "aws_config": aws_config})
    assert result["failed"] and result["error_code"] == "InvalidParameters"
    assert "aws_config" in result["msg"]
    assert calls == []


def test_review_a_huge_connection_pool_is_refused_before_any_call(iam, run, calls):
    """Promise: a malformed aws_config value fails before any call, naming it. Broken:
    aws_config.max_pool_connections has no upper bound; urllib3 fills its pool queue with one entry per
    connection on the first request, so 10**12 hangs the module and eats memory (observed: 3 GB in seconds).
    Here the prefill is stopped after 100000 entries so that the test fails instead of hanging."""
    import queue

    real_put = queue.Queue.put
    count = [0]

    def bounded_put(self, *args, **kwargs):
        count[0] += 1
        if count[0] > 100000:
            raise RuntimeError("urllib3 is pre-filling a connection pool of max_pool_connections entries")
        return real_put(self, *args, **kwargs)

    with mock.patch.object(queue.Queue, "put", bounded_put):
        result = run(
            info_module,
            {
                "user_name": "alice",
                "endpoint_url": "http://127.0.0.1:9",
                "aws_config": {"max_pool_connections": 10**12},
            },
        )
    assert result["failed"] and result["error_code"] == "InvalidParameters", result["msg"]
    assert "aws_config.max_pool_connections" in result["msg"]
    assert calls == []


@pytest.mark.parametrize(
    "keys_in_task",
    [True, False],
    ids=["keys-in-task", "keys-in-environment"],
)
def test_review_keys_win_over_a_profile_from_the_environment(iam, run, keys_in_task):
    """Promise (doc of profile): 'access keys set in the task take precedence over a profile from the
    environment ... When both come from the environment, the keys win'. Broken: credentials() drops the
    profile, but boto3's Session still reads AWS_PROFILE itself; a profile absent from this machine's files
    (a CI runner exporting AWS_PROFILE for another tool) fails the task with 'profile (from the environment
    variable AWS_PROFILE or AWS_DEFAULT_PROFILE) None is not in the AWS config or credentials files'."""
    args = {"user_name": "alice"}
    if keys_in_task:
        args.update(access_key="AKIAREVIEWTASKKEY000", secret_key="review-secret-from-the-task-0000000000000")
    with mock.patch.dict(os.environ, {"AWS_PROFILE": "a-profile-of-another-tool"}):
        result = run(info_module, args)
    assert not result.get("failed"), result["msg"]


@pytest.mark.parametrize("days", [3_000_000, 10**10])
def test_review_a_huge_expiry_window_is_refused_not_a_traceback(iam, run, cert, days):
    """Promise: every error is one clear fail_json message, never a traceback (rule 4); every failure has an
    error_code. Broken: expiring_within_days is only checked to be >= 0; now + timedelta(days) overflows, so
    `expiring_within_days: 3000000` dies with 'OverflowError: date value out of range' (10**10: 'Python int
    too large to convert to C int') once a certificate is listed."""
    upload_directly(iam, cert("window"))
    result = run(info_module, {"user_name": "alice", "expiring_within_days": days})
    if result.get("failed"):
        assert result["error_code"] == "InvalidParameters" and "expiring_within_days" in result["msg"]
    else:
        assert len(result["certificates"]) == 1  # a window reaching past year 9999 holds every certificate


def test_review_a_hung_endpoint_fails_a_fleet_rotation_within_a_minute(run, cert):
    """Promise (design, timeouts): 'a hung or unreachable endpoint fails within a minute, retries included'.
    Broken for the fleet rotation: every user is read on its own with the full retry budget (4 attempts of
    10 s), max_concurrency at a time, and nothing stops after the endpoint proved hung: 9 users take about
    80 s, 100 users about 9 minutes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    users = [{"user_name": f"user{number}", "new_certificate": cert(f"hung-{number}")} for number in range(9)]
    started = time.monotonic()
    try:
        result = run(rotation_module, {"users": users, "endpoint_url": f"http://127.0.0.1:{port}"})
    finally:
        listener.close()
    elapsed = time.monotonic() - started
    assert result["failed"]
    assert elapsed < 60, f"the rotation took {elapsed:.0f} s to give up on a hung endpoint"


# --- 2./3./7. whole or nothing, rotation, changed ---------------------------------------------------------------


def test_review_a_rotation_upload_whose_answer_was_lost_is_a_rotation(iam, run, inject, cert):
    """Promise: `changed` is true when this task's write took effect even when the answer was lost and the
    retry was told DuplicateCertificate ('the executor knows what it sent'); reports agree with what was done.
    Broken for the rotation: the lost-answer upload is reported as failed, changed false, rotated false, while
    the new certificate is on the user and active, and the due certificate was never retired."""
    old = upload_directly(iam, cert("old", days=5))
    new = cert("new")
    applied = []
    # The first attempt reaches IAM and takes effect, its answer is lost (a 500); botocore sends it again and
    # IAM answers DuplicateCertificate.
    inject.fail(
        "UploadSigningCertificate", "InternalFailure", 500, before=lambda: applied.append(upload_directly(iam, new))
    )
    inject.fail("UploadSigningCertificate", "DuplicateCertificate", 409)
    result = rotate(run, [{"user_name": "alice", "new_certificate": new}])
    (entry,) = result["results"]
    assert result["changed"] is True and entry["changed"] is True
    assert entry["rotated"] is True and entry["failed"] is False, entry["msg"]
    assert entry["new_certificate_id"] == applied[0] and entry["retired"] == [old]
    assert server_certificates(iam) == {old: "Inactive", applied[0]: "Active"}


def test_review_rotation_check_mode_matches_the_real_run_without_list_users(iam, run, inject, cert):
    """Promise (issue 12, exact preview): in check mode each user's entry says exactly what the real run does.
    Broken: check mode looks up the owner of every new certificate (ListUsers) while the real run does so only
    when room must be made; with a policy without iam:ListUsers the preview fails every due user ('could not
    find out whether another user holds the new certificate ...') and the real run then rotates them."""
    upload_directly(iam, cert("old", days=5))
    users = [{"user_name": "alice", "new_certificate": cert("new")}]
    inject.fail("ListUsers", "AccessDenied", 403, times=10)
    preview = rotate(run, users, check_mode=True)
    real = rotate(run, users)
    assert comparable(preview) == comparable(real)


def test_review_check_mode_reports_the_ownership_failure_of_the_real_run(iam, run, inject, cert):
    """Promise (rule 7): a plan that cannot complete (ownership included) changes nothing and check mode
    reports the same failure. Broken for iam_signing_certificate: check mode predicts a successful upload
    (changed: true) of a certificate another user of the account holds; IAM refuses the real upload with
    DuplicateCertificate (moto does not model it: injected here), as the rotation module's check mode knows."""
    iam.create_user(UserName="bob")
    body = cert("bobs")
    upload_directly(iam, body, user_name="bob")
    preview = run(certificate_module, {"user_name": "alice", "certificate_body": body}, check_mode=True)
    inject.fail("UploadSigningCertificate", "DuplicateCertificate", 409, message="The certificate is in use")
    real = run(certificate_module, {"user_name": "alice", "certificate_body": body})
    assert real["failed"] and real["error_code"] == "DuplicateCertificate"
    assert preview.get("failed") and preview["error_code"] == real["error_code"], preview


# --- 8. docs against behaviour ----------------------------------------------------------------------------------


def test_review_documented_return_values_match_what_is_returned(iam, run, cert):
    """Promise: every documented return key appears, nothing undocumented. Broken: the rotation module
    documents `results` as 'returned: always' and diff_mode 'support: none', yet a failed option check returns
    no `results`, and --diff returns a `diff`; the info module documents `certificates` as 'returned: always'
    and returns none on failure."""
    rotation_doc = yaml.safe_load(rotation_module.DOCUMENTATION)
    rotation_return = yaml.safe_load(rotation_module.RETURN)
    info_return = yaml.safe_load(info_module.RETURN)
    users = [{"user_name": "alice", "new_certificate": cert("doc")}]

    refused = rotate(run, users, threshold_days=-1)
    assert refused["failed"]
    if rotation_return["results"]["returned"] == "always":
        assert "results" in refused

    diffed = run(rotation_module, {"users": users, "verify_delay": 0}, check_mode=True, diff=True)
    assert ("diff" in diffed) == (rotation_doc["attributes"]["diff_mode"]["support"] != "none")

    missing = run(info_module, {"user_name": "nobody"})
    assert missing["failed"]
    if info_return["certificates"]["returned"] == "always":
        assert "certificates" in missing


def test_review_the_role_accepts_every_verify_delay_the_module_accepts():
    """Promise: the role is the entry point and passes its options to the module. Broken: the module (and its
    docs) take verify_delay as a float, 0 to 60, but the role's argument spec declares
    signing_certificate_rotation_verify_delay as int, so `signing_certificate_rotation_verify_delay: 0.5` fails
    the role's validation ('cannot be converted to an int'; reproduced with ansible-playbook)."""
    specs = yaml.safe_load((REPO / "roles/signing_certificate_rotation/meta/argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    validated = ArgumentSpecValidator(options).validate({"signing_certificate_rotation_verify_delay": 0.5})
    assert not validated.error_messages, validated.error_messages
    assert validated.validated_parameters["signing_certificate_rotation_verify_delay"] == 0.5
