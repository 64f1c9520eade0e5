"""Adversarial review of issues 10 and 12, end to end: findings that need real ansible-playbook runs (the role,
the documented playbook, controller-side validation). Each test failed on the code as reviewed (the docstring's
"Broken:" says how) and guards the promise since it was fixed. The in-process findings are in
tests/unit/test_review_findings.py.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.helpers import USER, CollectionPlaybook, fingerprint, localhost_play, server_certificates, upload
from tools.certs import private_key_pem

pytestmark = pytest.mark.e2e

PLAYBOOK = CollectionPlaybook("certops.aws.rotate_signing_certificates")

ROLE_PLAY = localhost_play(
    "The rotation role with the given variables",
    """\
    tasks:
      - name: Rotate
        ansible.builtin.include_role:
          name: certops.aws.signing_certificate_rotation
        vars: %s
    """,
)


def test_review_documented_playbook_reads_relative_paths_from_the_working_directory(
    ansible, iam_endpoint, iam, user, pem_file, tmp_path
):
    """Promise (issue 12, and the playbook's own header): 'relative paths are from the directory the command
    runs in'. Broken: `working_directory` is `lookup('ansible.builtin.pipe', 'pwd')`, and the pipe lookup runs
    its command in the playbook's directory, so `certificate_file: certs/new.pem` run from a directory holding
    certs/new.pem fails with 'certificate files not found: <repo>/docs/playbooks/certs/new.pem'."""
    old = upload(iam, pem_file("old", days=5)[1])
    _path, new_pem = pem_file("new-relative")
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "new.pem").write_text(new_pem)
    run = ansible.playbook(  # the ansible fixture runs every command in tmp_path
        PLAYBOOK,
        {"rotations": [{"user": USER, "certificate_file": "certs/new.pem"}], "iam_endpoint_url": iam_endpoint},
    )
    assert run.rc == 0, run.output
    after = server_certificates(iam)
    assert after[old]["status"] == "Inactive"
    assert [c["status"] for c in after.values() if c["fingerprint"] == fingerprint(new_pem)] == ["Active"]


@pytest.mark.parametrize(
    "variables",
    [
        {"signing_certificate_rotation_users": "USERS", "signing_certificate_rotation_user_name": None},
        {
            "signing_certificate_rotation_users": None,
            "signing_certificate_rotation_user_name": USER,
            "signing_certificate_rotation_new_certificate": "NEW",
        },
    ],
    ids=["user_name-null", "users-null"],
)
def test_review_the_role_treats_null_variables_as_not_given(ansible, iam_endpoint, iam, user, pem_file, variables):
    """Promise (rule 8): an option given as null counts as not given. Broken for the role: with
    `signing_certificate_rotation_user_name: null` beside a users list the role's first task fails with
    "The filter plugin 'ansible.builtin.length' failed: object of type 'NoneType' has no len()"; with
    `signing_certificate_rotation_users: null` beside the single-user variables its argument validation fails
    ('unable to convert to list')."""
    upload(iam, pem_file("old", days=5)[1])
    new_pem = pem_file("new-null")[1]
    values = {
        name: (
            [{"user_name": USER, "new_certificate": new_pem}]
            if value == "USERS"
            else new_pem
            if value == "NEW"
            else value
        )
        for name, value in variables.items()
    }
    run = ansible.playbook(ROLE_PLAY % json.dumps(values))
    assert run.rc == 0, run.output
    assert [c["status"] for c in server_certificates(iam).values() if c["fingerprint"] == fingerprint(new_pem)] == [
        "Active"
    ]


def test_review_the_role_never_echoes_a_private_key_in_its_variables(ansible, iam_endpoint, iam, user, pem_file):
    """Promise: a private key in any option of the modules and the role is never printed, whichever check fails
    first. Broken: the role's argument validation runs on the controller, outside the modules' masking; a key
    that lands in a scalar role variable (here old_certificate_action, likewise threshold_days) is printed in
    full in 'Validation of arguments failed: ... got: -----BEGIN PRIVATE KEY-----...', at default verbosity."""
    upload(iam, pem_file("old", days=5)[1])
    key = private_key_pem()
    private_half = [line for line in key.splitlines() if not line.startswith("-----") and len(line) >= 32][-8:]
    variables = {
        "signing_certificate_rotation_user_name": USER,
        "signing_certificate_rotation_new_certificate": pem_file("new-secret")[1],
        "signing_certificate_rotation_old_certificate_action": key,
    }
    run = ansible.playbook(ROLE_PLAY % json.dumps(variables))
    assert run.rc != 0
    assert [line for line in private_half if line in run.output] == []
