"""Failures a user can cause, end to end: the run fails (non-zero rc) with one clear message, no traceback,
nothing written to the server, and a private key is never shown, not even with -vvvv.

These plays get the endpoint the way a user without module_defaults would: the AWS_URL environment variable.
"""

from __future__ import annotations

import base64
import json

import pytest

from tests.e2e.helpers import USER, Ansible, PlaybookRun, fingerprint, server_certificates, upload
from tools.certs import private_key_pem

pytestmark = pytest.mark.e2e

UPLOAD_PLAY = """\
- name: Upload a signing certificate
  hosts: localhost
  gather_facts: false
  tasks:
    - name: upload
      certops.aws.iam_signing_certificate:
        user_name: "{{ user }}"
        certificate_body: "{{ lookup('ansible.builtin.file', cert) }}"
"""


def failed_upload(ansible: Ansible, user_name: str, cert_path, verbosity: int = 0) -> tuple[PlaybookRun, str]:
    """Run the upload play, which must fail; (the run, the module's message)."""
    run = ansible.playbook(UPLOAD_PLAY, {"user": user_name, "cert": str(cert_path)}, aws_url=True, verbosity=verbosity)
    assert run.rc == 2, run.output  # 2: a task failed
    task = run.task("upload")
    assert task["status"] == "failed"
    assert not task["changed"]
    assert "failed=1" in run.stdout
    message = task["result"]["msg"]
    # ansible-core 2.19 and later print the message as text; 2.17 and 2.18 print the result as JSON.
    shown = (message, json.dumps(message)[1:-1], json.dumps(message, ensure_ascii=False)[1:-1])
    assert any(form in run.output for form in shown), "the message is not shown to the user"
    return run, message


def test_unknown_user(ansible, iam, user, pem_file):
    path, _pem = pem_file("for-nobody")

    run, message = failed_upload(ansible, "nobody", path)

    assert message == "IAM user 'nobody' does not exist"
    assert run.result("upload")["error_code"] == "NoSuchEntity"
    assert [u["UserName"] for u in iam.list_users()["Users"]] == [user]
    assert server_certificates(iam) == {}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("this is not a certificate\n", "certificate_body is not PEM", id="plain-text"),
        pytest.param(
            "-----BEGIN CERTIFICATE-----\n" + base64.b64encode(b"\x30\x03\x02\x01\x01" * 20).decode() + "\n"
            "-----END CERTIFICATE-----\n",
            "certificate_body is not a valid X.509 certificate",
            id="armoured-garbage",
        ),
    ],
)
def test_garbage_body(ansible, iam, user, tmp_path, body, expected):
    path = tmp_path / "garbage.pem"
    path.write_text(body)

    _run, message = failed_upload(ansible, user, path)

    assert message.startswith(expected), message
    assert server_certificates(iam) == {}


def test_private_key_is_refused_and_never_shown(ansible, iam, user, tmp_path):
    key = private_key_pem()
    path = tmp_path / "key.pem"
    path.write_text(key)
    # Every base64 line of the key: a partial echo would leak as much as a full one.
    secret_lines = [line for line in key.splitlines() if line and "PRIVATE KEY" not in line]

    run, message = failed_upload(ansible, user, path, verbosity=4)

    assert message.startswith("certificate_body contains a private key")
    leaked = [line for line in secret_lines if line in run.output or line in str(run.tasks)]
    assert leaked == [], "lines of the private key appear in the output"
    assert server_certificates(iam) == {}


def test_private_key_ad_hoc_is_never_shown(ansible, iam, user):
    key = private_key_pem()
    secret_lines = [line for line in key.splitlines() if line and "PRIVATE KEY" not in line]

    run = ansible.adhoc(
        "certops.aws.iam_signing_certificate", {"user_name": user, "certificate_body": key}, verbosity=4
    )

    assert run.rc == 2
    assert run.status == "FAILED!"
    assert run.result["msg"].startswith("certificate_body contains a private key")
    assert [line for line in secret_lines if line in run.output] == []
    assert server_certificates(iam) == {}


def test_third_certificate_hits_the_quota(ansible, iam, user, pem_file):
    _first_path, first = pem_file("first")
    _second_path, second = pem_file("second")
    third_path, _third = pem_file("third")
    first_id = upload(iam, first)
    second_id = upload(iam, second, status="Inactive")
    before = {
        first_id: {"status": "Active", "fingerprint": fingerprint(first)},
        second_id: {"status": "Inactive", "fingerprint": fingerprint(second)},
    }

    _run, message = failed_upload(ansible, user, third_path)

    assert message.startswith(f"IAM user {USER!r} already has 2 signing certificates: ")
    assert f"{first_id} (Active)" in message
    assert f"{second_id} (Inactive)" in message
    assert "at most 2 signing certificates per user" in message
    assert server_certificates(iam) == before


@pytest.mark.parametrize("module", ["iam_signing_certificate_info", "iam_signing_certificate_rotation"])
def test_a_local_endpoint_where_nothing_listens_is_named_at_once(ansible, module):
    """As after `make emulator` was stopped in a shell that still exports its endpoint."""
    # Nothing listens on the discard port of the loopback interface.
    args = {"endpoint_url": "http://127.0.0.1:9"}
    args.update({"user_name": USER} if module.endswith("_info") else {"users": [{"user_name": USER}]})
    run = ansible.adhoc(f"certops.aws.{module}", args)

    assert run.rc == 2
    assert run.status == "FAILED!"
    assert run.result["error_code"] == "Unreachable"
    assert run.result["msg"].startswith(
        "nothing listens at the IAM endpoint http://127.0.0.1:9 on this machine (connection refused)"
    )
    # Said before any request: not as a failed request after botocore's retries with backoff (11 s before).
