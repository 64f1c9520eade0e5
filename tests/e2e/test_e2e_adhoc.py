"""Ad-hoc `ansible localhost -m certops.aws.<module> -a JSON`, results parsed from what the command prints.

The endpoint comes from AWS_URL, as a shell user would set it.
"""

from __future__ import annotations

import pytest

from tests.e2e.helpers import fingerprint, server_certificates, upload
from tools.harness import target_python

pytestmark = pytest.mark.e2e

MODULE = "certops.aws.iam_signing_certificate"
INFO = "certops.aws.iam_signing_certificate_info"


def test_modules_run_with_the_target_python(ansible):
    """The matrix's target cells point CERTOPS_TARGET_PYTHON at another venv: modules must really run there,
    for the implicit localhost too (which otherwise takes the controller's Python)."""
    run = ansible.adhoc("ansible.builtin.setup", {"filter": "ansible_python", "gather_subset": ["!all"]})

    assert run.status == "SUCCESS", run.output
    assert run.result["ansible_facts"]["ansible_python"]["executable"] == target_python()


def test_info_with_user_name(ansible, iam, user, pem_file):
    _path, pem = pem_file("listed", days=30)
    certificate_id = upload(iam, pem, status="Inactive")

    run = ansible.adhoc(INFO, {"user_name": user})

    assert run.rc == 0, run.output
    assert run.status == "SUCCESS"
    assert run.result["changed"] is False
    (listed,) = run.result["certificates"]
    assert listed["certificate_id"] == certificate_id
    assert listed["user_name"] == user
    assert listed["status"] == "Inactive"
    assert listed["fingerprint_sha256"] == fingerprint(pem)
    assert listed["subject"] == "O=certops,CN=listed"
    assert listed["days_to_expiry"] in (29, 30)


def test_upload_deactivate_delete(ansible, iam, user, pem_file):
    _path, pem = pem_file("adhoc")

    preview = ansible.adhoc(MODULE, {"user_name": user, "certificate_body": pem}, check=True)
    assert preview.status == "CHANGED", preview.output
    assert preview.result["certificate"]["certificate_id"] is None
    assert server_certificates(iam) == {}, "check mode wrote to the server"

    uploaded = ansible.adhoc(MODULE, {"user_name": user, "certificate_body": pem})
    assert uploaded.rc == 0, uploaded.output
    assert uploaded.status == "CHANGED"
    certificate_id = uploaded.result["certificate"]["certificate_id"]
    assert server_certificates(iam) == {certificate_id: {"status": "Active", "fingerprint": fingerprint(pem)}}

    deactivated = ansible.adhoc(MODULE, {"user_name": user, "certificate_id": certificate_id, "state": "inactive"})
    assert deactivated.status == "CHANGED", deactivated.output
    assert deactivated.result["certificate"]["status"] == "Inactive"
    assert server_certificates(iam) == {certificate_id: {"status": "Inactive", "fingerprint": fingerprint(pem)}}

    deleted = ansible.adhoc(MODULE, {"user_name": user, "certificate_id": certificate_id, "state": "absent"})
    assert deleted.status == "CHANGED", deleted.output
    assert deleted.result["certificate"] is None
    assert deleted.result["certificates"] == []
    assert server_certificates(iam) == {}

    gone = ansible.adhoc(MODULE, {"user_name": user, "certificate_id": certificate_id, "state": "absent"})
    assert gone.status == "SUCCESS", gone.output
    assert gone.result["changed"] is False


def test_failure_is_one_clear_line(ansible, iam, user):
    run = ansible.adhoc(MODULE, {"user_name": user, "certificate_id": "ASCA0000000000000000000001", "state": "active"})

    assert run.rc == 2
    assert run.status == "FAILED!"
    assert run.result["msg"] == (
        "IAM user 'alice' has no signing certificate with ID ASCA0000000000000000000001; "
        "give certificate_body to upload a certificate"
    )
    assert server_certificates(iam) == {}
