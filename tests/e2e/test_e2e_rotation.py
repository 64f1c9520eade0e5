"""The role certops.aws.signing_certificate_rotation end to end, through playbooks/rotate_signing_certificates.yml.

Each test sets the user's certificates up with plain boto3, runs the documented playbook the way a user
would (`--check --diff` first where it matters, then for real, then again), and reads the outcome back from
the server with plain boto3.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.helpers import (
    USER,
    Ansible,
    CollectionPlaybook,
    PlaybookRun,
    fingerprint,
    localhost_play,
    server_certificates,
    upload,
)
from tools.certs import private_key_pem
from tools.loopback_proxy import LoopbackProxy, aws_error

# IAM lists a write a moment later: every scenario here meets a small consistency delay.
pytestmark = [pytest.mark.e2e, pytest.mark.consistency_delay(0.3)]

PLAYBOOK = CollectionPlaybook("certops.aws.rotate_signing_certificates")  # as a user runs it, installed
VERIFY_SOON = {"signing_certificate_rotation_verify_delay": 0.5}


def rotate(ansible: Ansible, endpoint: str, rotations: list[dict], **options) -> PlaybookRun:
    """Run the documented rotation playbook; options: check, diff, verbosity, and playbook variables."""
    run_options = {key: options.pop(key) for key in ("check", "diff", "verbosity") if key in options}
    # The emulator lists a write 0.3 s late here: the role's verification looks again 0.5 s later, not 3 s.
    extra = {"rotations": rotations, "iam_endpoint_url": endpoint, **VERIFY_SOON, **options}
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


ROTATE_TASK = "Rotate the signing certificates"
OUTCOME_KEYS = ("user_name", "rotated", "retired", "deleted_to_make_room", "failed")


def outcome(run: PlaybookRun) -> list[dict]:
    """Per user, what the role says it did (or, in check mode, would do)."""
    return run.result(ROTATE_TASK)["results"]


def comparable(entries: list[dict]) -> list[dict]:
    return [{key: entry[key] for key in OUTCOME_KEYS} for entry in entries]


def test_expiring_certificate_is_rotated_previewed_then_done_once(ansible, iam_endpoint, iam, user, pem_file, new_cert):
    old = upload(iam, pem_file("old", days=5)[1])
    rotation, new_fingerprint = new_cert

    preview = rotate(ansible, iam_endpoint, [rotation], check=True, diff=True)
    assert preview.rc == 0, preview.output
    assert statuses(iam) == {old: "Active"}, "check mode wrote to the server"
    assert recap(preview)["changed"] == 1
    assert (
        f"{USER}: would rotate to the new certificate because the active certificate {old} expires on "
        in preview.stdout
    )
    assert f", within the threshold of 30 days; would deactivate the old {old}" in preview.stdout
    (predicted,) = outcome(preview)
    assert predicted["rotated"] and predicted["retired"] == [old] and predicted["new_certificate_id"] is None
    assert predicted["new_fingerprint_sha256"] == new_fingerprint

    real = rotate(ansible, iam_endpoint, [rotation])
    assert real.rc == 0, real.output
    new = new_certificate_id(iam, new_fingerprint)
    assert statuses(iam) == {old: "Inactive", new: "Active"}
    assert recap(real)["changed"] == 1
    assert comparable(outcome(real)) == comparable(outcome(preview))
    assert outcome(real)[0]["new_certificate_id"] == new
    assert f"{USER}: rotated to {new} because the active certificate {old} expires on " in real.stdout
    assert f", within the threshold of 30 days; deactivated the old {old}" in real.stdout

    again = rotate(ansible, iam_endpoint, [rotation])
    assert again.rc == 0 and recap(again)["changed"] == 0, again.output
    assert statuses(iam) == {old: "Inactive", new: "Active"}
    assert f"{USER}: not rotated because the new certificate is already active as {new}" in again.stdout


def test_certificate_far_from_expiry_is_left_alone(ansible, iam_endpoint, iam, user, pem_file, new_cert):
    old = upload(iam, pem_file("old", days=300)[1])
    run = rotate(ansible, iam_endpoint, [new_cert[0]])
    assert run.rc == 0 and recap(run)["changed"] == 0, run.output
    assert statuses(iam) == {old: "Active"}
    assert f"{USER}: not rotated because the active certificate {old} is valid until " in run.stdout
    assert ", beyond the threshold of 30 days" in run.stdout


def test_force_rotates_regardless_of_expiry(ansible, iam_endpoint, iam, user, pem_file, new_cert):
    old = upload(iam, pem_file("old", days=300)[1])
    rotation, new_fingerprint = new_cert
    run = rotate(ansible, iam_endpoint, [rotation], force_rotation=True)
    assert run.rc == 0, run.output
    assert statuses(iam) == {old: "Inactive", new_certificate_id(iam, new_fingerprint): "Active"}
    assert "because the rotation is forced (force); deactivated the old" in run.stdout


def test_old_certificate_action_delete(ansible, iam_endpoint, iam, user, pem_file, new_cert):
    upload(iam, pem_file("old", days=3)[1])
    rotation, new_fingerprint = new_cert
    run = rotate(ansible, iam_endpoint, [rotation], old_certificate_action="delete")
    assert run.rc == 0, run.output
    assert statuses(iam) == {new_certificate_id(iam, new_fingerprint): "Active"}


def test_user_at_the_quota_check_mode_says_exactly_what_the_real_run_does(
    ansible, iam_endpoint, iam, user, pem_file, new_cert
):
    old = upload(iam, pem_file("old", days=5)[1])
    retired = upload(iam, pem_file("retired", days=200)[1], status="Inactive")
    rotation, new_fingerprint = new_cert

    preview = rotate(ansible, iam_endpoint, [rotation], check=True, diff=True)
    assert preview.rc == 0, preview.output
    assert statuses(iam) == {old: "Active", retired: "Inactive"}, "check mode wrote to the server"
    assert comparable(outcome(preview)) == [
        {"user_name": USER, "rotated": True, "retired": [old], "deleted_to_make_room": [retired], "failed": False}
    ]

    run = rotate(ansible, iam_endpoint, [rotation])
    assert run.rc == 0, run.output
    assert statuses(iam) == {old: "Inactive", new_certificate_id(iam, new_fingerprint): "Active"}
    assert comparable(outcome(run)) == comparable(outcome(preview))
    assert f"deleted the inactive {retired} to make room" in run.stdout

    again = rotate(ansible, iam_endpoint, [rotation])
    assert again.rc == 0 and recap(again)["changed"] == 0, again.output


def test_user_with_two_active_certificates_fails_before_any_change(
    ansible, iam_endpoint, iam, user, pem_file, new_cert
):
    first = upload(iam, pem_file("first", days=5)[1])
    second = upload(iam, pem_file("second", days=6)[1])
    run = rotate(ansible, iam_endpoint, [new_cert[0]])
    assert run.rc == 2, run.output
    assert f"{USER}: cannot rotate: the user already has 2 active signing certificates ({first} (Active" in run.stdout
    assert f"{second} (Active" in run.stdout
    assert "never deletes an active certificate" in run.stdout
    assert recap(run)["changed"] == 0
    assert statuses(iam) == {first: "Active", second: "Active"}


def test_new_certificate_uploaded_but_inactive_is_activated(ansible, iam_endpoint, iam, user, pem_file, new_cert):
    old = upload(iam, pem_file("old", days=5)[1])
    rotation, _fingerprint = new_cert
    with open(rotation["certificate_file"]) as handle:
        new = upload(iam, handle.read(), status="Inactive")
    run = rotate(ansible, iam_endpoint, [rotation])
    assert run.rc == 0, run.output
    assert statuses(iam) == {old: "Inactive", new: "Active"}


@pytest.mark.parametrize(
    ("certificate", "expected"),
    [
        ({"days": -1, "starts_in_days": -30}, "cannot rotate: the new certificate expired on"),
        ({"days": 60, "starts_in_days": 2}, "cannot rotate: the new certificate is not valid before"),
        ({"days": 10}, "within the threshold of 30 days itself"),
    ],
    ids=["expired", "not-yet-valid", "due-itself"],
)
def test_a_new_certificate_that_cannot_be_kept_changes_nothing_even_when_room_is_needed(
    ansible, iam_endpoint, iam, user, pem_file, certificate, expected
):
    old = upload(iam, pem_file("old", days=5)[1])
    retired = upload(iam, pem_file("retired", days=200)[1], status="Inactive")
    path, _pem = pem_file("bad-new", **certificate)
    for check in (True, False):
        run = rotate(ansible, iam_endpoint, [{"user": USER, "certificate_file": str(path)}], check=check)
        assert run.rc == 2, run.output
        assert expected in run.stdout
        assert outcome(run)[0]["deleted_to_make_room"] == []
        assert statuses(iam) == {old: "Active", retired: "Inactive"}


def test_a_certificate_held_by_another_user_fails_naming_the_holder_and_leaves_the_user_as_it_was(
    ansible, iam_endpoint, iam, user, pem_file
):
    """Check mode finds the holder before anything is done; the real run deletes the valid spare to make room without
    listing the account, is refused by IAM (the emulator answers DuplicateCertificate), and puts the spare back."""
    old = upload(iam, pem_file("old", days=5)[1])
    spare_pem = pem_file("spare", days=200)[1]
    spare = upload(iam, spare_pem, status="Inactive")
    iam.create_user(UserName="carol")
    path, pem = pem_file("carols")
    upload(iam, pem, user_name="carol")
    held_before = sorted(server_certificates(iam).values(), key=str)
    for check in (True, False):
        run = rotate(ansible, iam_endpoint, [{"user": USER, "certificate_file": str(path)}], check=check)
        assert run.rc == 2, run.output
        assert "the new certificate is already uploaded to IAM user 'carol'" in run.stdout
        (entry,) = outcome(run)
        assert entry["error_code"] == "DuplicateCertificate" and not entry["rotated"]
        assert sorted(server_certificates(iam).values(), key=str) == held_before
    (put_back,) = set(statuses(iam)) - {old}
    assert f"deleted to make room and then uploaded again: {spare} as {put_back}" in entry["msg"]
    assert entry["deleted_to_make_room"] == [spare] and entry["changed"]


def test_new_certificate_already_active_keeps_a_healthy_certificate(ansible, iam_endpoint, iam, user, pem_file):
    healthy = upload(iam, pem_file("healthy", days=300)[1])
    path, pem = pem_file("already")
    new = upload(iam, pem)
    run = rotate(ansible, iam_endpoint, [{"user": USER, "certificate_file": str(path)}])
    assert run.rc == 0 and recap(run)["changed"] == 0, run.output
    assert statuses(iam) == {healthy: "Active", new: "Active"}
    assert outcome(run)[0]["retired"] == [] and not outcome(run)[0]["rotated"]


def test_several_users_in_one_play(ansible, iam_endpoint, iam, pem_file):
    rotations, old = [], {}
    for name in ("u1", "u2"):
        iam.create_user(UserName=name)
        old[name] = upload(iam, pem_file(f"{name}-old", days=2)[1], user_name=name)
        path, _pem = pem_file(f"{name}-new")
        rotations.append({"user": name, "certificate_file": str(path)})
    run = rotate(ansible, iam_endpoint, rotations)
    assert run.rc == 0, run.output
    for name in ("u1", "u2"):
        current = statuses(iam, name)
        assert current.pop(old[name]) == "Inactive"
        assert list(current.values()) == ["Active"]


def test_failed_upload_puts_back_what_was_deleted_to_make_room(ansible, iam_endpoint, iam, user, pem_file, new_cert):
    old_pem = pem_file("old", days=5)[1]
    old = upload(iam, old_pem)
    _retired_path, retired_pem = pem_file("retired", days=100)
    retired = upload(iam, retired_pem, status="Inactive")
    uploads = []

    def fail_the_new_upload(request):
        if request.action != "UploadSigningCertificate":
            return None
        uploads.append(request.action)
        return aws_error("ServiceFailure", "injected failure", 500) if len(uploads) <= 4 else None

    with LoopbackProxy(iam_endpoint, fault=fail_the_new_upload) as proxy:
        run = rotate(ansible, proxy.url, [new_cert[0]])
    assert run.rc == 2, run.output
    assert "could not upload the new certificate" in run.stdout
    assert "ServiceFailure: injected failure" in run.stdout
    # The active certificate was never touched, and the inactive one deleted to make room is back, inactive.
    now = server_certificates(iam)
    assert now[old] == {"status": "Active", "fingerprint": fingerprint(old_pem)}
    (restored,) = [cid for cid in now if cid != old]
    assert now[restored] == {"status": "Inactive", "fingerprint": fingerprint(retired_pem)}
    assert f"deleted to make room and then uploaded again: {retired} as {restored}" in run.stdout


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (
            {"signing_certificate_rotation_new_certificate": None},
            "new_certificate of 'alice' is required",
        ),
        (
            {"signing_certificate_rotation_users": [{"user_name": "bob", "new_certificate": "x"}]},
            "give either signing_certificate_rotation_users (a list of user_name and new_certificate), or",
        ),
        (
            {
                "signing_certificate_rotation_users": [{"user_name": "bob"}],
                "signing_certificate_rotation_user_name": None,
                "signing_certificate_rotation_new_certificate": None,
            },
            "new_certificate of 'bob' is required",
        ),
        (
            {"signing_certificate_rotation_old_certificate_action": "archive"},
            "value of old_certificate_action must be one of: deactivate, delete, got: archive",
        ),
        (
            {"signing_certificate_rotation_threshold_days": -1},
            "threshold_days must be between 0 and 36500, got -1",
        ),
        (
            {"signing_certificate_rotation_threshold_days": "soon"},
            # ansible-core 2.17 and 2.18 name the type as <class 'str'>, 2.19 and later as str.
            re.compile(
                r"argument 'threshold_days' is of type (str|<class 'str'>) and we were unable to convert to int"
            ),
        ),
        (
            {"signing_certificate_rotation_verify_retries": 0},
            "verify_retries must be between 1 and 100, got 0",
        ),
        (
            {"signing_certificate_rotation_new_certificate": "not a certificate"},
            "new_certificate of 'alice' is not PEM",
        ),
    ],
    ids=[
        "missing-certificate",
        "both-forms",
        "user-without-certificate",
        "unknown-action",
        "negative-threshold",
        "threshold-not-a-number",
        "no-verify-attempts",
        "garbage-certificate",
    ],
)
def test_bad_variables_fail_before_any_call(ansible, iam_endpoint, iam, user, pem_file, variables, expected):
    old = upload(iam, pem_file("old", days=5)[1])
    _path, new_pem = pem_file("new")
    role_vars = {
        "signing_certificate_rotation_user_name": USER,
        "signing_certificate_rotation_new_certificate": new_pem,
        **variables,
    }
    role_vars = {key: value for key, value in role_vars.items() if value is not None}
    play = localhost_play("Rotation with bad variables", "roles:\n  - role: certops.aws.signing_certificate_rotation\n")
    run = ansible.playbook(play, role_vars)
    assert run.rc == 2, run.output
    if isinstance(expected, re.Pattern):
        assert expected.search(run.stdout), run.stdout
    else:
        assert expected in run.stdout, run.stdout
    assert recap(run)["changed"] == 0
    assert statuses(iam) == {old: "Active"}


def test_private_key_as_new_certificate_is_refused_and_never_shown(
    ansible, iam_endpoint, iam, user, pem_file, tmp_path
):
    old = upload(iam, pem_file("old", days=5)[1])
    key = private_key_pem()
    path = tmp_path / "key.pem"
    path.write_text(key)
    run = rotate(ansible, iam_endpoint, [{"user": USER, "certificate_file": str(path)}], verbosity=4)
    assert run.rc == 2, run.output
    assert "contains a private key" in run.output
    for line in key.splitlines():
        if not line.startswith("-----"):
            assert line not in run.output
    assert statuses(iam) == {old: "Active"}


RESULT_KEYS = {
    "user_name",
    "rotated",
    "reason",
    "new_certificate_id",
    "new_fingerprint_sha256",
    "retired",
    "deleted_to_make_room",
    "changed",
    "failed",
    "msg",
    "error_code",
    "summary",
}


def published(run: PlaybookRun) -> list[dict]:
    """Each user's result, as the rotation task returned it (the role publishes the same, see below)."""
    return run.result(ROTATE_TASK)["results"]


def test_the_role_publishes_its_results_as_facts_and_each_user_is_in_one_event(
    ansible, iam_endpoint, iam, user, pem_file
):
    upload(iam, pem_file("old", days=5)[1])
    _path, new_pem = pem_file("new")
    play = localhost_play(
        "Rotate, then use the published results",
        """\
        tasks:
          - name: Rotate
            ansible.builtin.include_role:
              name: certops.aws.signing_certificate_rotation
          - name: Use them
            ansible.builtin.debug:
              msg: "{{ signing_certificate_rotation_results | map(attribute='user_name') | list }}
                {{ signing_certificate_rotation_result.rotated }}"
        """,
    )
    run = ansible.playbook(
        play,
        {
            "endpoint": iam_endpoint,
            "signing_certificate_rotation_user_name": USER,
            "signing_certificate_rotation_new_certificate": new_pem,
            **VERIFY_SOON,
        },
    )
    assert run.rc == 0, run.output
    assert run.result("Use them")["msg"] == f"['{USER}'] True"
    # The results are in the rotation task's result, and nowhere else whole: the report prints a line per user.
    assert "new_fingerprint_sha256" not in str(run.result("Publish the outcome"))
    assert run.result("Report each user")["msg"] == [f"{USER}: {published(run)[0]['summary']}"]


def test_a_list_with_a_blocked_user_in_the_middle(ansible, iam_endpoint, iam, pem_file):
    """Every user is attempted, the blocked one fails alone, and the play fails at the end naming it."""
    old, rotations = {}, []
    for name in ("first", "blocked", "last"):
        iam.create_user(UserName=name)
        old[name] = upload(iam, pem_file(f"{name}-old", days=3)[1], user_name=name)
        path, _pem = pem_file(f"{name}-new")
        rotations.append({"user": name, "certificate_file": str(path)})
    second_active = upload(iam, pem_file("blocked-second", days=4)[1], user_name="blocked")

    run = rotate(ansible, iam_endpoint, rotations)
    assert run.rc == 2, run.output
    assert "1 of 3 users could not be rotated: blocked: cannot rotate: the user already has 2 active" in run.stdout
    results = published(run)
    assert [entry["user_name"] for entry in results] == ["first", "blocked", "last"]
    assert all(set(entry) == RESULT_KEYS for entry in results)
    first, blocked, last = results
    assert first["rotated"] and last["rotated"] and not blocked["rotated"]
    assert blocked["failed"] and blocked["error_code"] == "LimitExceeded" and not first["failed"]
    for name, entry in (("first", first), ("last", last)):
        assert entry["retired"] == [old[name]]
        assert statuses(iam, name) == {old[name]: "Inactive", entry["new_certificate_id"]: "Active"}
        assert f"{name}: rotated to {entry['new_certificate_id']}" in run.stdout
    assert statuses(iam, "blocked") == {old["blocked"]: "Active", second_active: "Active"}
    assert "blocked: FAILED: cannot rotate" in run.stdout

    again = rotate(ansible, iam_endpoint, rotations)
    assert again.rc == 2 and recap(again)["changed"] == 0, again.output
    assert [entry["rotated"] for entry in published(again)] == [False, False, False]


def test_relative_certificate_paths_are_taken_from_the_working_directory(ansible, iam_endpoint, iam, user, pem_file):
    old = upload(iam, pem_file("old", days=5)[1])
    certs = ansible.workdir / "certs"
    certs.mkdir()
    path, pem = pem_file("relative-new")
    (certs / "alice-2027.pem").write_text(pem)
    path.unlink()
    run = rotate(ansible, iam_endpoint, [{"user": USER, "certificate_file": "certs/alice-2027.pem"}])
    assert run.rc == 0, run.output
    assert statuses(iam) == {old: "Inactive", new_certificate_id(iam, fingerprint(pem)): "Active"}


def test_a_missing_certificate_file_stops_the_play_before_anything_is_written(
    ansible, iam_endpoint, iam, user, pem_file
):
    old = upload(iam, pem_file("old", days=5)[1])
    path, _pem = pem_file("present")
    run = rotate(
        ansible,
        iam_endpoint,
        [{"user": USER, "certificate_file": str(path)}, {"user": "bob", "certificate_file": "certs/nowhere.pem"}],
    )
    assert run.rc == 2, run.output
    assert "rotations[2] (bob): certificate file not found: certs/nowhere.pem" in run.stdout
    assert statuses(iam) == {old: "Active"}


def test_empty_or_malformed_rotations_stop_the_play_naming_each_problem(ansible, iam_endpoint, iam, user, pem_file):
    """A survey left blank is not a success; an entry with another key (a typo) is named, never a crash."""
    old = upload(iam, pem_file("old", days=5)[1])
    empty = rotate(ansible, iam_endpoint, [])
    assert empty.rc == 2, empty.output
    message = empty.task("Check the rotations before anything is written")["result"]["msg"]
    assert message.startswith("no rotations given: give them as a list `rotations` of entries"), message
    typo = rotate(ansible, iam_endpoint, [{"user": USER, "certifcate": "x"}])
    assert typo.rc == 2, typo.output
    message = typo.task("Check the rotations before anything is written")["result"]["msg"]
    assert message == (
        f"rotations[1] ({USER}): unknown key 'certifcate' (user, certificate_file, certificate); rotations[1] "
        f"({USER}): give certificate_file (a path) or certificate (the PEM text)"
    ), message
    assert statuses(iam) == {old: "Active"}


def test_a_certificate_given_as_text_is_rotated_to_as_a_file_is(ansible, iam_endpoint, iam, user, pem_file):
    """As a survey or extra vars give it: the PEM text itself in the entry."""
    old = upload(iam, pem_file("old", days=5)[1])
    _path, pem = pem_file("from-a-survey")
    run = rotate(ansible, iam_endpoint, [{"user": USER, "certificate": pem}])
    assert run.rc == 0, run.output
    assert statuses(iam) == {old: "Inactive", new_certificate_id(iam, fingerprint(pem)): "Active"}


def test_a_user_listed_twice_stops_the_play_naming_only_that_user(ansible, iam_endpoint, iam, user, pem_file):
    old = upload(iam, pem_file("old", days=5)[1])
    files = [str(pem_file(name)[0]) for name in ("first", "second", "third")]
    rotations = [
        {"user": USER, "certificate_file": files[0]},
        {"user": "bob", "certificate_file": files[1]},
        {"user": USER.upper(), "certificate_file": files[2]},  # IAM user names ignore case
    ]
    run = rotate(ansible, iam_endpoint, rotations)
    assert run.rc == 2, run.output
    message = run.task("Check the rotations before anything is written")["result"]["msg"]
    assert message == f"a user appears more than once in rotations: {USER}", message
    assert statuses(iam) == {old: "Active"}
