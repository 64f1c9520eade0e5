"""The ansible-test integration targets, run unchanged against the moto server.

Like ansible-test, the runner plays each target as a role (ANSIBLE_ROLES_PATH = tests/integration/targets)
and passes what defaults/main.yml asks for as extra vars: the IAM user (created here with boto3), two
certificate files (written here) and the connection (aws_endpoint_url plus the credential variables that
ansible-test's integration_config.yml would hold).
"""

from __future__ import annotations

import pytest

from tests.e2e.helpers import TARGETS_DIR, Ansible, PlaybookRun, fingerprint, server_certificates, upload

pytestmark = pytest.mark.e2e


def run_target(ansible: Ansible, target: str, user: str, cert_a, cert_b) -> PlaybookRun:
    playbook = ansible.write_playbook(f"""\
        - name: Integration target {target}
          hosts: localhost
          gather_facts: false
          roles:
            - {target}
        """)
    extra_vars = {
        "certops_test_user": user,
        "certops_test_cert_a": str(cert_a),
        "certops_test_cert_b": str(cert_b),
        "aws_endpoint_url": ansible.endpoint,
        "aws_access_key": "testing",
        "aws_secret_key": "testing",
        "aws_region": "us-east-1",
    }
    return ansible.playbook(playbook, extra_vars, env={"ANSIBLE_ROLES_PATH": str(TARGETS_DIR)})


def unexpected_failures(run: PlaybookRun, expected: set[str]) -> list[str]:
    """Tasks that failed, other than the failures the target provokes and checks itself."""
    return [
        entry["task"]
        for entry in run.tasks
        if entry["status"] not in ("ok", "skipped") and not (entry["ignored"] and entry["task"] in expected)
    ]


def test_iam_signing_certificate_target(ansible, iam, user, pem_file):
    cert_a, pem_a = pem_file("certops-test-a", days=365)
    cert_b, _pem_b = pem_file("certops-test-b", days=20)
    # A leftover of an interrupted run: the target's first task must clear it.
    upload(iam, pem_a, status="Inactive")

    run = run_target(ansible, "iam_signing_certificate", user, cert_a, cert_b)

    assert run.rc == 0, run.output
    assert unexpected_failures(run, {"A's body with B's ID fails before any write"}) == []
    assert run.task("A's body with B's ID fails before any write")["status"] == "failed"
    asserts = [entry for entry in run.tasks if entry["action"] == "ansible.builtin.assert"]
    assert len(asserts) == 6
    assert all(entry["status"] == "ok" for entry in asserts)
    assert run.changed("Start clean - delete the test certificates an interrupted run may have left")
    assert [run.changed(f"Upload A{suffix}") for suffix in (" - check mode", "", " - again")] == [True, True, False]
    assert run.changed("Delete A by ID") and not run.changed("Delete A by ID - again")
    # The always: clean-up found nothing left, and the server agrees.
    assert not run.changed("Clean up - delete the test certificates")
    assert server_certificates(iam) == {}


def test_iam_signing_certificate_info_target(ansible, iam, user, pem_file):
    cert_a, _pem_a = pem_file("certops-test-a", days=365)
    cert_b, _pem_b = pem_file("certops-test-b", days=20)

    run = run_target(ansible, "iam_signing_certificate_info", user, cert_a, cert_b)

    assert run.rc == 0, run.output
    assert unexpected_failures(run, {"A user that does not exist fails with a clear message"}) == []
    asserts = [entry for entry in run.tasks if entry["action"] == "ansible.builtin.assert"]
    assert len(asserts) == 3
    assert all(entry["status"] == "ok" for entry in asserts)
    assert run.changed("Upload A, active, and B, inactive")
    assert run.changed("Clean up - delete the test certificates")
    assert server_certificates(iam) == {}


def test_target_cleans_up_after_a_failure(ansible, iam, user, pem_file):
    """The always: clean-up runs when a task fails: here B's upload passes the quota of a user who is
    not clean (one certificate of someone else's), A is uploaded, and only A and B are removed."""
    cert_a, _pem_a = pem_file("certops-test-a")
    cert_b, _pem_b = pem_file("certops-test-b")
    _foreign_path, foreign_pem = pem_file("not-ours")
    foreign_id = upload(iam, foreign_pem)

    run = run_target(ansible, "iam_signing_certificate_info", user, cert_a, cert_b)

    assert run.rc == 2, run.output
    failed = run.task("Upload A, active, and B, inactive")
    assert failed["status"] == "failed"
    (_a_result, b_result) = failed["result"]["results"]
    assert b_result["msg"].startswith(f"IAM user {user!r} already has 2 signing certificates: {foreign_id} (Active)")
    assert b_result["msg"] in run.output
    assert run.changed("Clean up - delete the test certificates")
    assert server_certificates(iam) == {foreign_id: {"status": "Active", "fingerprint": fingerprint(foreign_pem)}}
