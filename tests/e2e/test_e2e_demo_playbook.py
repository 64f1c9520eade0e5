"""The example playbook of the docs (the one `make demo` runs) keeps working: preview, run, rerun.

It reaches the server through AWS_URL only, as it would reach real AWS through nothing but credentials.
"""

from __future__ import annotations

import pytest

from tests.e2e.helpers import CollectionPlaybook, fingerprint, server_certificates

pytestmark = pytest.mark.e2e

PLAYBOOK = CollectionPlaybook("certops.aws.signing_certificates_demo")


def test_example_playbook_rotates_once_then_changes_nothing(ansible, iam, user, pem_file):
    current_path, current = pem_file("current", days=5.5, starts_in_days=-360)
    new_path, new = pem_file("successor", days=365)
    extra = {"iam_user": user, "current_certificate_file": str(current_path), "new_certificate_file": str(new_path)}

    preview = ansible.playbook(PLAYBOOK, extra, check=True, diff=True, aws_url=True)
    assert preview.rc == 0, preview.output
    assert server_certificates(iam) == {}, "the --check preview wrote to the server"

    real = ansible.playbook(PLAYBOOK, extra, diff=True, aws_url=True)
    assert real.rc == 0, real.output
    statuses = {cert["fingerprint"]: cert["status"] for cert in server_certificates(iam).values()}
    assert statuses == {fingerprint(current): "Inactive", fingerprint(new): "Active"}
    assert "5 days left - due for rotation" in real.stdout
    _removed, added = real.diff_changes("Rotate the signing certificates")
    assert '"status": "Inactive"' in added  # the old certificate, retired
    assert f'"fingerprint_sha256": "{fingerprint(new)}"' in added

    again = ansible.playbook(PLAYBOOK, extra, aws_url=True)
    assert again.rc == 0, again.output
    assert [entry["task"] for entry in again.tasks if entry["changed"]] == []
    assert "due for rotation" not in again.stdout
    assert {cert["fingerprint"]: cert["status"] for cert in server_certificates(iam).values()} == statuses
