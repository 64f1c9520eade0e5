"""Each state and transition of certops.aws.iam_signing_certificate through real ansible-playbook runs.

For every transition: `--check --diff` first (the server must be untouched, the diff must show the change),
then the real run, then the same play again (changed: false). Each play ends with the info module, whose
listing must agree with what plain boto3 reads from the server.

These plays reach the server through `module_defaults: group/certops.aws.aws`; the process has no AWS_URL
and a dead AWS_ENDPOINT_URL_IAM, so a play that ignored module_defaults would fail.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest

from tests.e2e.helpers import Ansible, PlaybookRun, fingerprint, localhost_play, server_certificates, upload

pytestmark = pytest.mark.e2e

BY_BODY = """\
user_name: "{{ user }}"
certificate_body: "{{ lookup('ansible.builtin.file', cert) }}"
"""
BY_ID = """\
user_name: "{{ user }}"
certificate_id: "{{ cert_id }}"
"""


def transition_play(module_args: str) -> str:
    """A play: the task under test ('change'), then the info module on the same user ('confirm')."""
    head = localhost_play(
        "Signing certificate transition",
        """\
        tasks:
          - name: change
            certops.aws.iam_signing_certificate:
        """,
    )
    tail = """\
    - name: confirm
      certops.aws.iam_signing_certificate_info:
        user_name: "{{ user }}"
"""
    return head + textwrap.indent(module_args, " " * 8) + tail


def listed(run: PlaybookRun) -> dict[str, dict[str, str]]:
    """What the info module reported, in the shape of server_certificates()."""
    return {
        c["certificate_id"]: {"status": c["status"], "fingerprint": c["fingerprint_sha256"]}
        for c in run.result("confirm")["certificates"]
    }


def check_real_again(ansible: Ansible, play: str, extra_vars: dict) -> Iterator[PlaybookRun]:
    """Run the play with --check --diff, for real with --diff, then again; yields each run as soon as it ends."""
    for options in ({"check": True, "diff": True}, {"diff": True}, {}):
        run = ansible.playbook(play, extra_vars, **options)
        assert run.rc == 0, run.output
        yield run


def test_present_uploads_a_new_certificate_once(ansible, iam, user, pem_file):
    path, pem = pem_file("upload")
    play = transition_play(BY_BODY + "state: present\n")
    extra = {"user": user, "cert": str(path)}

    check = ansible.playbook(play, extra, check=True, diff=True)
    assert check.rc == 0, check.output
    assert server_certificates(iam) == {}, "check mode wrote to the server"
    assert check.changed("change")
    predicted = check.result("change")["certificate"]
    assert predicted["certificate_id"] is None
    assert predicted["status"] == "Active"
    assert predicted["fingerprint_sha256"] == fingerprint(pem)
    removed, added = check.diff_changes("change")
    assert f'"fingerprint_sha256": "{fingerprint(pem)}"' in added
    assert '"status": "Active"' in added
    assert removed == ['"certificates": []']
    assert listed(check) == {}

    real = ansible.playbook(play, extra, diff=True)
    assert real.rc == 0, real.output
    assert real.changed("change")
    uploaded = real.result("change")["certificate"]
    expected = {uploaded["certificate_id"]: {"status": "Active", "fingerprint": fingerprint(pem)}}
    assert server_certificates(iam) == expected
    assert f'"certificate_id": "{uploaded["certificate_id"]}"' in real.diff_changes("change")[1]
    assert listed(real) == expected

    again = ansible.playbook(play, extra)
    assert again.rc == 0, again.output
    assert not again.changed("change")
    assert again.result("change")["certificate"]["certificate_id"] == uploaded["certificate_id"]
    assert server_certificates(iam) == expected
    assert listed(again) == expected
    assert "changed=0" in again.stdout


def test_upload_with_state_inactive_lands_inactive(ansible, iam, user, pem_file):
    path, pem = pem_file("upload-inactive")
    runs = check_real_again(ansible, transition_play(BY_BODY + "state: inactive\n"), {"user": user, "cert": str(path)})

    check = next(runs)
    assert server_certificates(iam) == {}, "check mode wrote to the server"
    assert check.changed("change")
    assert check.result("change")["certificate"]["status"] == "Inactive"
    assert '"status": "Inactive"' in check.diff_changes("change")[1]
    assert listed(check) == {}

    real = next(runs)
    assert real.changed("change")
    certificate_id = real.result("change")["certificate"]["certificate_id"]
    expected = {certificate_id: {"status": "Inactive", "fingerprint": fingerprint(pem)}}
    assert server_certificates(iam) == expected
    assert listed(real) == expected

    again = next(runs)
    assert not again.changed("change")
    assert server_certificates(iam) == expected
    assert listed(again) == expected


def test_inactive_deactivates_an_active_certificate_found_by_body(ansible, iam, user, pem_file):
    path, pem = pem_file("deactivate")
    certificate_id = upload(iam, pem)
    before = {certificate_id: {"status": "Active", "fingerprint": fingerprint(pem)}}
    play = transition_play(BY_BODY + "state: inactive\n")
    extra = {"user": user, "cert": str(path)}

    check = ansible.playbook(play, extra, check=True, diff=True)
    assert check.rc == 0, check.output
    assert server_certificates(iam) == before, "check mode wrote to the server"
    assert check.changed("change")
    assert certificate_id in check.diff_text("change")
    removed, added = check.diff_changes("change")
    assert removed == ['"status": "Active"']
    assert added == ['"status": "Inactive"']
    assert listed(check) == before

    real = ansible.playbook(play, extra, diff=True)
    assert real.rc == 0, real.output
    assert real.changed("change")
    after = {certificate_id: {"status": "Inactive", "fingerprint": fingerprint(pem)}}
    assert server_certificates(iam) == after
    assert real.result("change")["certificate"]["certificate_id"] == certificate_id

    again = ansible.playbook(play, extra)
    assert again.rc == 0, again.output
    assert not again.changed("change")
    assert server_certificates(iam) == after
    assert listed(again) == after


def test_active_reactivates_an_inactive_certificate_found_by_id(ansible, iam, user, pem_file):
    _path, pem = pem_file("reactivate")
    certificate_id = upload(iam, pem, status="Inactive")
    before = {certificate_id: {"status": "Inactive", "fingerprint": fingerprint(pem)}}
    play = transition_play(BY_ID + "state: active\n")
    extra = {"user": user, "cert_id": certificate_id}

    check = ansible.playbook(play, extra, check=True, diff=True)
    assert check.rc == 0, check.output
    assert server_certificates(iam) == before, "check mode wrote to the server"
    assert check.changed("change")
    assert certificate_id in check.diff_text("change")
    assert check.diff_changes("change") == (['"status": "Inactive"'], ['"status": "Active"'])

    real = ansible.playbook(play, extra, diff=True)
    assert real.rc == 0, real.output
    assert real.changed("change")
    after = {certificate_id: {"status": "Active", "fingerprint": fingerprint(pem)}}
    assert server_certificates(iam) == after

    again = ansible.playbook(play, extra)
    assert again.rc == 0, again.output
    assert not again.changed("change")
    assert server_certificates(iam) == after
    assert listed(again) == after


def test_absent_deletes_only_the_named_certificate(ansible, iam, user, pem_file):
    path, pem = pem_file("delete")
    _other_path, other_pem = pem_file("keep")
    certificate_id = upload(iam, pem)
    kept_id = upload(iam, other_pem)
    kept = {kept_id: {"status": "Active", "fingerprint": fingerprint(other_pem)}}
    before = {certificate_id: {"status": "Active", "fingerprint": fingerprint(pem)}, **kept}
    play = transition_play(BY_BODY + "state: absent\n")
    extra = {"user": user, "cert": str(path)}

    check = ansible.playbook(play, extra, check=True, diff=True)
    assert check.rc == 0, check.output
    assert server_certificates(iam) == before, "check mode wrote to the server"
    assert check.changed("change")
    assert check.result("change")["certificate"] is None
    removed, added = check.diff_changes("change")
    assert f'"certificate_id": "{certificate_id}"' in removed
    assert not any(kept_id in line for line in removed + added)
    assert listed(check) == before

    real = ansible.playbook(play, extra, diff=True)
    assert real.rc == 0, real.output
    assert real.changed("change")
    assert server_certificates(iam) == kept
    assert listed(real) == kept

    again = ansible.playbook(play, extra)
    assert again.rc == 0, again.output
    assert not again.changed("change")
    assert server_certificates(iam) == kept
    assert listed(again) == kept


def test_absent_when_already_gone_changes_nothing(ansible, iam, user, pem_file):
    path, _pem = pem_file("never-uploaded")
    _other_path, other_pem = pem_file("unrelated")
    kept_id = upload(iam, other_pem)
    kept = {kept_id: {"status": "Active", "fingerprint": fingerprint(other_pem)}}
    play = localhost_play(
        "Absent when already gone",
        """\
          tasks:
            - name: by body, never uploaded
              certops.aws.iam_signing_certificate:
                user_name: "{{ user }}"
                certificate_body: "{{ lookup('ansible.builtin.file', cert) }}"
                state: absent
            - name: by an ID the user does not have
              certops.aws.iam_signing_certificate:
                user_name: "{{ user }}"
                certificate_id: ASCANOSUCHCERTIFICATE0000001
                state: absent
            - name: of a user that does not exist
              certops.aws.iam_signing_certificate:
                user_name: no-such-user
                certificate_body: "{{ lookup('ansible.builtin.file', cert) }}"
                state: absent
            - name: confirm
              certops.aws.iam_signing_certificate_info:
                user_name: "{{ user }}"
        """,
    )
    extra = {"user": user, "cert": str(path)}
    names = ("by body, never uploaded", "by an ID the user does not have", "of a user that does not exist")

    # Already absent: check mode and the real run both report no change, twice over.
    for run in (ansible.playbook(play, extra, check=True, diff=True), ansible.playbook(play, extra)):
        assert run.rc == 0, run.output
        assert [run.changed(name) for name in names] == [False, False, False]
        assert all(run.result(name)["certificate"] is None for name in names)
        assert "changed=0" in run.stdout
        assert server_certificates(iam) == kept
        assert listed(run) == kept
    assert [u["UserName"] for u in iam.list_users()["Users"]] == [user]


def test_present_leaves_an_existing_inactive_certificate_inactive(ansible, iam, user, pem_file):
    path, pem = pem_file("stays-inactive")
    certificate_id = upload(iam, pem, status="Inactive")
    expected = {certificate_id: {"status": "Inactive", "fingerprint": fingerprint(pem)}}
    play = transition_play(BY_BODY + "state: present\n")

    for run in check_real_again(ansible, play, {"user": user, "cert": str(path)}):
        assert not run.changed("change")
        assert run.result("change")["certificate"]["certificate_id"] == certificate_id
        assert server_certificates(iam) == expected
        assert listed(run) == expected
