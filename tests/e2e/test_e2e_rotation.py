"""The role certops.aws.signing_certificate_rotation end to end, through docs/playbooks/rotate_signing_certificates.yml.

Each test sets the user's certificates up with plain boto3, runs the documented playbook the way a user
would (`--check --diff` first where it matters, then for real, then again), and reads the outcome back from
the server with plain boto3.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.helpers import REPO, USER, Ansible, PlaybookRun, fingerprint, server_certificates, upload
from tests.proxy import LoopbackProxy, aws_error
from tools.certs import private_key_pem

pytestmark = pytest.mark.e2e

PLAYBOOK = REPO / "docs" / "playbooks" / "rotate_signing_certificates.yml"


def rotate(ansible: Ansible, endpoint: str, rotations: list[dict], **options) -> PlaybookRun:
    """Run the documented rotation playbook; options: check, diff, verbosity, and playbook variables."""
    run_options = {key: options.pop(key) for key in ("check", "diff", "verbosity") if key in options}
    extra = {"rotations": rotations, "iam_endpoint_url": endpoint, **options}
    return ansible.playbook(PLAYBOOK, extra, **run_options)


def recap(run: PlaybookRun) -> dict[str, int]:
    match = re.search(r"^localhost\s+:\s+(.*)$", run.stdout, re.M)
    assert match, run.output
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def statuses(iam, user_name: str = USER) -> dict[str, str]:
    return {cid: cert["status"] for cid, cert in server_certificates(iam, user_name).items()}


@pytest.fixture
def new_cert(pem_file):
    path, pem = pem_file("new-2027", days=365)
    return {"user": USER, "certificate_file": str(path)}, fingerprint(pem)


def new_certificate_id(iam, new_fingerprint: str, user_name: str = USER) -> str:
    (found,) = [cid for cid, c in server_certificates(iam, user_name).items() if c["fingerprint"] == new_fingerprint]
    return found


def test_expiring_certificate_is_rotated_previewed_then_done_once(
    ansible, moto_endpoint, iam, user, pem_file, new_cert
):
    old = upload(iam, pem_file("old", days=5)[1])
    rotation, new_fingerprint = new_cert

    preview = rotate(ansible, moto_endpoint, [rotation], check=True, diff=True)
    assert preview.rc == 0, preview.output
    assert statuses(iam) == {old: "Active"}, "check mode wrote to the server"
    assert recap(preview)["changed"] == 2  # the upload and the deactivation it would make
    assert "every active certificate expires within 30 days" in preview.stdout
    assert new_fingerprint in preview.stdout  # the diff of the upload shows the new certificate

    real = rotate(ansible, moto_endpoint, [rotation])
    assert real.rc == 0, real.output
    new = new_certificate_id(iam, new_fingerprint)
    assert statuses(iam) == {old: "Inactive", new: "Active"}
    assert recap(real)["changed"] == 2

    again = rotate(ansible, moto_endpoint, [rotation])
    assert again.rc == 0 and recap(again)["changed"] == 0, again.output
    assert statuses(iam) == {old: "Inactive", new: "Active"}
    assert f"already uploaded and active as {new}" in again.stdout


def test_certificate_far_from_expiry_is_left_alone(ansible, moto_endpoint, iam, user, pem_file, new_cert):
    old = upload(iam, pem_file("old", days=300)[1])
    run = rotate(ansible, moto_endpoint, [new_cert[0]])
    assert run.rc == 0 and recap(run)["changed"] == 0, run.output
    assert statuses(iam) == {old: "Active"}
    assert "no rotation needed" in run.stdout and "299 days left" in run.stdout


def test_force_rotates_regardless_of_expiry(ansible, moto_endpoint, iam, user, pem_file, new_cert):
    old = upload(iam, pem_file("old", days=300)[1])
    rotation, new_fingerprint = new_cert
    run = rotate(ansible, moto_endpoint, [rotation], force_rotation=True)
    assert run.rc == 0, run.output
    assert statuses(iam) == {old: "Inactive", new_certificate_id(iam, new_fingerprint): "Active"}
    assert "rotation forced" in run.stdout


def test_old_certificate_action_delete(ansible, moto_endpoint, iam, user, pem_file, new_cert):
    upload(iam, pem_file("old", days=3)[1])
    rotation, new_fingerprint = new_cert
    run = rotate(ansible, moto_endpoint, [rotation], old_certificate_action="delete")
    assert run.rc == 0, run.output
    assert statuses(iam) == {new_certificate_id(iam, new_fingerprint): "Active"}


def test_user_at_the_quota_with_an_inactive_certificate(ansible, moto_endpoint, iam, user, pem_file, new_cert):
    old = upload(iam, pem_file("old", days=5)[1])
    retired = upload(iam, pem_file("retired", days=200)[1], status="Inactive")
    rotation, new_fingerprint = new_cert

    preview = rotate(ansible, moto_endpoint, [rotation], check=True, diff=True)
    assert preview.rc == 0, preview.output
    assert statuses(iam) == {old: "Active", retired: "Inactive"}, "check mode wrote to the server"
    assert "would upload O=certops,CN=new-2027" in preview.stdout
    assert retired in preview.stdout

    run = rotate(ansible, moto_endpoint, [rotation])
    assert run.rc == 0, run.output
    assert statuses(iam) == {old: "Inactive", new_certificate_id(iam, new_fingerprint): "Active"}


def test_user_with_two_active_certificates_fails_before_any_change(
    ansible, moto_endpoint, iam, user, pem_file, new_cert
):
    first = upload(iam, pem_file("first", days=5)[1])
    second = upload(iam, pem_file("second", days=6)[1])
    run = rotate(ansible, moto_endpoint, [new_cert[0]])
    assert run.rc == 2, run.output
    assert f"{USER}: cannot rotate: the user already has 2 active signing certificates ({first} (Active" in run.stdout
    assert f"{second} (Active" in run.stdout
    assert "never deletes an active certificate" in run.stdout
    assert recap(run)["changed"] == 0
    assert statuses(iam) == {first: "Active", second: "Active"}


def test_new_certificate_uploaded_but_inactive_is_activated(ansible, moto_endpoint, iam, user, pem_file, new_cert):
    old = upload(iam, pem_file("old", days=5)[1])
    rotation, _fingerprint = new_cert
    with open(rotation["certificate_file"]) as handle:
        new = upload(iam, handle.read(), status="Inactive")
    run = rotate(ansible, moto_endpoint, [rotation])
    assert run.rc == 0, run.output
    assert statuses(iam) == {old: "Inactive", new: "Active"}


def test_several_users_in_one_play(ansible, moto_endpoint, iam, pem_file):
    rotations, old = [], {}
    for name in ("u1", "u2"):
        iam.create_user(UserName=name)
        old[name] = upload(iam, pem_file(f"{name}-old", days=2)[1], user_name=name)
        path, _pem = pem_file(f"{name}-new")
        rotations.append({"user": name, "certificate_file": str(path)})
    run = rotate(ansible, moto_endpoint, rotations)
    assert run.rc == 0, run.output
    for name in ("u1", "u2"):
        current = statuses(iam, name)
        assert current.pop(old[name]) == "Inactive"
        assert list(current.values()) == ["Active"]


def test_failed_upload_leaves_the_old_certificate_active(ansible, moto_endpoint, iam, user, pem_file, new_cert):
    old = upload(iam, pem_file("old", days=5)[1])
    retired = upload(iam, pem_file("retired", days=100)[1], status="Inactive")

    def fail_uploads(request):
        return (
            aws_error("ServiceFailure", "injected failure", 500)
            if request.action == "UploadSigningCertificate"
            else None
        )

    with LoopbackProxy(moto_endpoint, fault=fail_uploads) as proxy:
        run = rotate(ansible, proxy.url, [new_cert[0]])
    assert run.rc == 2, run.output
    assert "ServiceFailure: injected failure" in run.stdout
    # Room was made (the inactive one), but the active certificate was never touched.
    assert statuses(iam) == {old: "Active"}
    assert retired not in statuses(iam)


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (
            {"signing_certificate_rotation_new_certificate": None},
            "missing required arguments: signing_certificate_rotation_new_certificate",
        ),
        (
            {"signing_certificate_rotation_old_certificate_action": "archive"},
            "signing_certificate_rotation_old_certificate_action must be one of: deactivate, delete, got: archive",
        ),
        (
            {"signing_certificate_rotation_threshold_days": -1},
            "signing_certificate_rotation_threshold_days must be 0 or more, got -1",
        ),
        (
            {"signing_certificate_rotation_threshold_days": "soon"},
            # ansible-core 2.17 and 2.18 name the type as <class 'str'>, 2.19 and later as str.
            re.compile(
                r"argument 'signing_certificate_rotation_threshold_days' is of type (str|<class 'str'>) "
                r"and we were unable to convert to int"
            ),
        ),
        (
            {"signing_certificate_rotation_verify_retries": 0},
            "signing_certificate_rotation_verify_retries must be 1 or more, got 0",
        ),
        (
            {"signing_certificate_rotation_new_certificate": "not a certificate"},
            "x509_certificate_info: the certificate is not PEM",
        ),
    ],
    ids=[
        "missing-certificate",
        "unknown-action",
        "negative-threshold",
        "threshold-not-a-number",
        "no-verify-attempts",
        "garbage-certificate",
    ],
)
def test_bad_variables_fail_before_any_call(ansible, moto_endpoint, iam, user, pem_file, variables, expected):
    old = upload(iam, pem_file("old", days=5)[1])
    _path, new_pem = pem_file("new")
    role_vars = {
        "signing_certificate_rotation_user_name": USER,
        "signing_certificate_rotation_new_certificate": new_pem,
        **variables,
    }
    role_vars = {key: value for key, value in role_vars.items() if value is not None}
    play = """\
- name: Rotation with bad variables
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/certops.aws.aws:
      endpoint_url: "{{ endpoint }}"
  roles:
    - role: certops.aws.signing_certificate_rotation
"""
    run = ansible.playbook(play, role_vars)
    assert run.rc == 2, run.output
    if isinstance(expected, re.Pattern):
        assert expected.search(run.stdout), run.stdout
    else:
        assert expected in run.stdout, run.stdout
    assert recap(run)["changed"] == 0
    assert statuses(iam) == {old: "Active"}


def test_private_key_as_new_certificate_is_refused_and_never_shown(
    ansible, moto_endpoint, iam, user, pem_file, tmp_path
):
    old = upload(iam, pem_file("old", days=5)[1])
    key = private_key_pem()
    path = tmp_path / "key.pem"
    path.write_text(key)
    run = rotate(ansible, moto_endpoint, [{"user": USER, "certificate_file": str(path)}], verbosity=4)
    assert run.rc == 2, run.output
    assert "contains a private key" in run.output
    for line in key.splitlines():
        if not line.startswith("-----"):
            assert line not in run.output
    assert statuses(iam) == {old: "Active"}
