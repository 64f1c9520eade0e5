"""The example playbook of the docs (the one `make demo` runs) keeps working: preview, run, rerun, and the preview
shows what the real run then does.

It reaches the server through AWS_URL only, as it would reach real AWS through nothing but credentials. As in
`make demo`, the user already holds its certificate of today (expiring in 5 days) when the preview runs.
"""

from __future__ import annotations

import pytest

from tests.e2e.helpers import CollectionPlaybook, fingerprint, server_certificates, upload

pytestmark = pytest.mark.e2e

PLAYBOOK = CollectionPlaybook("certops.aws.signing_certificates_demo")
ROTATE = "Rotate the signing certificates"
REPORT = "Report each user"
NOT_UPLOADED_YET = "(new certificate, not uploaded yet)"


def test_example_playbook_previews_exactly_rotates_once_then_changes_nothing(ansible, iam, user, pem_file):
    current_path, current = pem_file("current", days=5.5, starts_in_days=-360)
    new_path, new = pem_file("successor", days=365)
    old = upload(iam, current)
    extra = {"iam_user": user, "current_certificate_file": str(current_path), "new_certificate_file": str(new_path)}

    preview = ansible.playbook(PLAYBOOK, extra, check=True, diff=True, aws_url=True)
    assert preview.rc == 0, preview.output
    assert server_certificates(iam) == {old: {"status": "Active", "fingerprint": fingerprint(current)}}, (
        "the --check preview wrote to the server"
    )

    real = ansible.playbook(PLAYBOOK, extra, diff=True, aws_url=True)
    assert real.rc == 0, real.output
    statuses = {cert["fingerprint"]: cert["status"] for cert in server_certificates(iam).values()}
    assert statuses == {fingerprint(current): "Inactive", fingerprint(new): "Active"}
    assert "5 days left - due for rotation" in preview.stdout and "5 days left - due for rotation" in real.stdout

    # The preview said what the real run then did: the same changes, the same diff (the new certificate's ID
    # aside, which IAM chooses at upload), the same report in the conditional.
    assert [t["task"] for t in preview.tasks if t["changed"]] == [t["task"] for t in real.tasks if t["changed"]]
    (predicted,), (done,) = preview.result(ROTATE)["results"], real.result(ROTATE)["results"]
    new_id = done["new_certificate_id"]
    keys = ("rotated", "retired", "deleted_to_make_room", "reason", "changed", "failed")
    assert {k: predicted[k] for k in keys} == {k: done[k] for k in keys}
    assert done["rotated"] and done["retired"] == [old]
    previewed = preview.result(ROTATE)["diff"]
    previewed["after"]["users"][user][new_id] = previewed["after"]["users"][user].pop(NOT_UPLOADED_YET)
    assert previewed == real.result(ROTATE)["diff"]
    assert set(real.result(ROTATE)["diff"]["after"]["users"][user]) == {old, new_id}  # both kept, the old retired
    (said,), (did,) = preview.result(REPORT)["msg"], real.result(REPORT)["msg"]
    assert said.startswith(f"{user}: would rotate to the new certificate because the active certificate {old}")
    assert (
        said.replace("would rotate to the new certificate", f"rotated to {new_id}").replace(
            "would deactivate", "deactivated"
        )
        == did
    )

    again = ansible.playbook(PLAYBOOK, extra, aws_url=True)
    assert again.rc == 0, again.output
    assert [entry["task"] for entry in again.tasks if entry["changed"]] == []
    assert "due for rotation" not in again.stdout
    assert {cert["fingerprint"]: cert["status"] for cert in server_certificates(iam).values()} == statuses
