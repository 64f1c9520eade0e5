"""certops.aws.iam_signing_certificate_rotation when IAM fails part-way: a denied lookup, a dropped connection, the
endpoint lost mid-run, a lost answer. Every entry, `changed` and the diff must say what IAM holds afterwards."""

from __future__ import annotations

import json

import pytest

from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate_rotation as module
from tests.fleet_truth import assert_results_are_what_iam_holds, holdings
from tests.unit.conftest import server_certificates
from tests.unit.plugins.modules.test_iam_signing_certificate import upload_directly

EXPIRED = {"days": -1, "starts_in_days": -30}
OUTCOME = ("user_name", "rotated", "retired", "deleted_to_make_room", "failed", "changed")


def rotate(run, users, check_mode=False, **options):
    return run(module, {"users": users, "verify_delay": 0, **options}, check_mode=check_mode, diff=True)


def due_users(iam, cert, names, spare=None):
    """Users with one active certificate due for rotation (and an inactive spare: 'valid' or 'expired')."""
    for name in names:
        if name != "alice":
            iam.create_user(UserName=name)
        upload_directly(iam, cert(f"{name}-old", days=5), user_name=name)
        if spare:
            upload_directly(iam, cert(f"{name}-spare", **({} if spare == "valid" else EXPIRED)), name, "Inactive")
    return [{"user_name": name, "new_certificate": cert(f"{name}-new")} for name in names]


def test_a_denied_owner_lookup_stops_no_rotation_and_check_mode_says_what_it_could_not_learn(
    iam, run, inject, calls, cert
):
    """The real run never lists the account before it writes; check mode does, and says when it cannot."""
    users = due_users(iam, cert, ["alice"], spare="expired")
    before = holdings(iam, ["alice"])
    inject.fail("ListUsers", "AccessDenied", 403, times=2)
    preview = rotate(run, users, check_mode=True)
    warned = json.dumps(preview.get("warnings"))  # ansible-core 2.19 returns warnings as mappings
    assert "check mode could not find out whether another user of the account holds the new certificate" in warned
    calls.clear()
    result = rotate(run, users)
    assert "ListUsers" not in calls
    (entry,) = result["results"]
    assert entry["rotated"] and len(entry["deleted_to_make_room"]) == 1 and not entry["failed"]
    assert [{k: e[k] for k in OUTCOME} for e in preview["results"]] == [{k: entry[k] for k in OUTCOME}]
    assert_results_are_what_iam_holds(result, before, iam)


@pytest.mark.parametrize("spare", ["valid", "expired"])
def test_a_spare_is_deleted_to_make_room_without_listing_the_account(iam, run, calls, cert, spare):
    """A valid spare can be put back if the upload fails; an expired one cannot be needed: no account-wide lookup
    before the delete either way."""
    users = due_users(iam, cert, ["alice"], spare=spare)
    calls.clear()
    result = rotate(run, users)
    assert result["results"][0]["rotated"] and "ListUsers" not in calls
    assert calls.writes == ["DeleteSigningCertificate", "UploadSigningCertificate", "UpdateSigningCertificate"]


def test_an_expired_spare_goes_before_a_valid_one_when_room_is_made(iam, run, cert):
    valid = upload_directly(iam, cert("valid-spare"), status="Inactive")
    expired = upload_directly(iam, cert("expired-spare", **EXPIRED), status="Inactive")
    result = rotate(run, [{"user_name": "alice", "new_certificate": cert("new")}])
    (entry,) = result["results"]
    assert entry["deleted_to_make_room"] == [expired] and entry["rotated"]
    assert set(server_certificates(iam)) == {valid, entry["new_certificate_id"]}


def test_a_certificate_another_user_holds_is_refused_naming_the_holder_and_the_spare_put_back(
    iam, run, inject, cert, clock
):
    """The spare is valid, so it is deleted without an account-wide lookup, and put back when IAM refuses the
    upload (moto does not refuse duplicates: IAM's answer is played here)."""
    iam.create_user(UserName="carol")
    theirs = cert("carols")
    upload_directly(iam, theirs, user_name="carol")
    old = upload_directly(iam, cert("old", days=5))
    spare = upload_directly(iam, cert("spare"), status="Inactive")
    before = holdings(iam, ["alice", "carol"])
    preview = rotate(run, [{"user_name": "alice", "new_certificate": theirs}], check_mode=True)
    assert "already uploaded to IAM user 'carol'" in preview["results"][0]["msg"]
    assert (
        f"the real run learns it from IAM's refusal of the upload, after deleting {spare} to make room, and then "
        "uploads it again under a new ID" in preview["results"][0]["msg"]
    )
    inject.fail("UploadSigningCertificate", "DuplicateCertificate", 409)
    result = rotate(run, [{"user_name": "alice", "new_certificate": theirs}])
    (entry,) = result["results"]
    assert entry["failed"] and entry["error_code"] == "DuplicateCertificate"
    assert "already uploaded to IAM user 'carol'" in entry["msg"]
    (restored,) = set(server_certificates(iam)) - {old}
    assert f"deleted to make room and then uploaded again: {spare} as {restored}" in entry["msg"]
    assert server_certificates(iam) == {old: "Active", restored: "Inactive"}
    assert_results_are_what_iam_holds(result, before, iam)


def test_one_dropped_connection_fails_that_user_alone(iam, run, inject, cert):
    names = ["u1", "u2", "u3", "u4"]
    users = due_users(iam, cert, names)
    before = holdings(iam, names)
    inject.drop("ListSigningCertificates", times=4, user="u2")  # every attempt of u2's first listing
    result = rotate(run, users, max_concurrency=1)
    by_name = {entry["user_name"]: entry for entry in result["results"]}
    assert by_name["u2"]["failed"] and "IAM user 'u2'" in by_name["u2"]["msg"]
    assert [by_name[name]["rotated"] for name in names] == [True, False, True, True]
    assert_results_are_what_iam_holds(result, before, iam)


def test_the_endpoint_lost_mid_run_leaves_the_rest_not_attempted_and_reported_as_such(iam, run, inject, cert):
    names = [f"u{n}" for n in range(1, 7)]
    users = due_users(iam, cert, names, spare="valid")
    before = holdings(iam, names)
    # Six listings, then u1's writes (delete, upload, verify, retire) and u2's delete: then the endpoint is gone.
    inject.lose_endpoint(after=6 + 4 + 1)
    result = rotate(run, users, max_concurrency=1)
    assert result["failed"]
    entries = result["results"]
    assert entries[0]["rotated"] and not entries[0]["failed"]
    assert entries[1]["failed"] and entries[1]["deleted_to_make_room"] and not entries[1]["rotated"]
    for entry in entries[2:]:
        assert entry["failed"] and not entry["changed"] and entry["error_code"] == "Unreachable"
        assert entry["msg"].startswith("not attempted: the IAM endpoint"), entry["msg"]
    assert_results_are_what_iam_holds(result, before, iam)


def test_a_lost_upload_answer_is_found_and_the_rotation_completed(iam, run, inject, cert):
    old = upload_directly(iam, cert("old", days=5))
    new = cert("new")
    taken = []
    # The first attempt reaches IAM (someone sees it take effect), its answer is lost; every retry is throttled.
    inject.fail(
        "UploadSigningCertificate", "Throttling", times=1, before=lambda: taken.append(upload_directly(iam, new))
    )
    inject.fail("UploadSigningCertificate", "Throttling", times=3)
    result = rotate(run, [{"user_name": "alice", "new_certificate": new}])
    (entry,) = result["results"]
    assert entry["rotated"] and entry["changed"] and entry["new_certificate_id"] == taken[0], entry
    assert server_certificates(iam) == {old: "Inactive", taken[0]: "Active"}


@pytest.mark.parametrize("check_mode", [True, False], ids=["check", "real"])
def test_a_certificate_handed_from_one_listed_user_to_another_is_refused_the_same_way(iam, run, cert, check_mode):
    iam.create_user(UserName="x2")
    handed = cert("handed")
    upload_directly(iam, handed, user_name="alice")
    upload_directly(iam, cert("x2-old", days=5), user_name="x2")
    users = [
        {"user_name": "alice", "new_certificate": cert("alice-new")},
        {"user_name": "x2", "new_certificate": handed},
    ]
    before = holdings(iam, ["alice", "x2"])
    result = rotate(run, users, check_mode=check_mode, old_certificate_action="delete", force=True)
    alice, x2 = result["results"]
    assert alice["rotated"] and not alice["failed"]
    assert x2["failed"] and not x2["changed"] and x2["error_code"] == "DuplicateCertificate"
    assert "IAM user 'alice'" in x2["msg"] and "this run" in x2["msg"], x2["msg"]
    if not check_mode:
        assert_results_are_what_iam_holds(result, before, iam)


def took_effect_but_its_answer_was_lost(inject, action: str, effect) -> None:
    """The next request of action reaches IAM and takes effect (`effect`, made with plain boto3), but its answer is
    lost, and every retry of botocore is throttled."""
    inject.fail(action, "Throttling", times=1, before=effect)
    inject.fail(action, "Throttling", times=3)


def test_a_make_room_delete_whose_answer_was_lost_is_reported_as_done(iam, run, inject, cert, clock):
    upload_directly(iam, cert("old", days=5))
    spare = upload_directly(iam, cert("spare"), status="Inactive")
    before = holdings(iam, ["alice"])
    took_effect_but_its_answer_was_lost(
        inject,
        "DeleteSigningCertificate",
        lambda: iam.delete_signing_certificate(UserName="alice", CertificateId=spare),
    )
    result = rotate(run, [{"user_name": "alice", "new_certificate": cert("new")}])
    (entry,) = result["results"]
    assert entry["rotated"] and entry["deleted_to_make_room"] == [spare]
    assert_results_are_what_iam_holds(result, before, iam)


@pytest.mark.parametrize("step", ["retire", "activate"])
def test_a_status_change_whose_answer_was_lost_is_reported_as_done(iam, run, inject, cert, clock, step):
    new = cert("new")
    old = upload_directly(iam, cert("old", days=5))
    uploaded = upload_directly(iam, new, status="Inactive") if step == "activate" else None
    before = holdings(iam, ["alice"])
    target, status = (old, "Inactive") if step == "retire" else (uploaded, "Active")
    took_effect_but_its_answer_was_lost(
        inject,
        "UpdateSigningCertificate",
        lambda: iam.update_signing_certificate(UserName="alice", CertificateId=target, Status=status),
    )
    result = rotate(run, [{"user_name": "alice", "new_certificate": new}])
    (entry,) = result["results"]
    assert entry["rotated"] and entry["retired"] == [old] and not entry["failed"], entry
    assert_results_are_what_iam_holds(result, before, iam)


def test_a_put_back_whose_answer_was_lost_is_reported_and_left_inactive(iam, run, inject, cert, clock):
    old = upload_directly(iam, cert("old", days=5))
    spare_body = cert("spare")
    spare = upload_directly(iam, spare_body, status="Inactive")
    before = holdings(iam, ["alice"])
    inject.fail("UploadSigningCertificate", "AccessDenied", 403)  # the new certificate's upload is refused
    put_back = []
    took_effect_but_its_answer_was_lost(
        inject, "UploadSigningCertificate", lambda: put_back.append(upload_directly(iam, spare_body))
    )
    result = rotate(run, [{"user_name": "alice", "new_certificate": cert("new")}])
    (entry,) = result["results"]
    assert f"deleted to make room and then uploaded again: {spare} as {put_back[0]}" in entry["msg"]
    assert server_certificates(iam) == {old: "Active", put_back[0]: "Inactive"}
    assert_results_are_what_iam_holds(result, before, iam)


def test_a_spare_someone_else_deleted_meanwhile_is_neither_claimed_nor_put_back(iam, run, inject, cert):
    """Another hand deletes the spare (revoked, say) just before the rotation's delete: room is made, but not by this
    run, and when the upload then fails the spare is not uploaded again."""
    old = upload_directly(iam, cert("old", days=5))
    spare = upload_directly(iam, cert("revoked-spare"), status="Inactive")
    before = holdings(iam, ["alice"])
    inject.fail(
        "DeleteSigningCertificate",
        "NoSuchEntity",
        404,
        before=lambda: iam.delete_signing_certificate(UserName="alice", CertificateId=spare),
    )
    inject.fail("UploadSigningCertificate", "AccessDenied", 403)
    result = rotate(run, [{"user_name": "alice", "new_certificate": cert("new")}])
    (entry,) = result["results"]
    assert entry["failed"] and entry["deleted_to_make_room"] == [] and not entry["changed"]
    assert server_certificates(iam) == {old: "Active"}
    assert result["diff"]["after"]["users"] == {} and before["alice"] != server_certificates(iam)


def test_the_first_request_of_a_run_dropped_fails_that_user_alone(iam, run, inject, cert):
    """Nothing answered yet when the first request fails on its way: the endpoint is suspect, not lost; the next
    user's request shows it is there."""
    names = ["u1", "u2", "u3"]
    users = due_users(iam, cert, names)
    before = holdings(iam, names)
    inject.drop("ListSigningCertificates", times=4, user="u1")
    result = rotate(run, users, max_concurrency=1)
    assert [entry["rotated"] for entry in result["results"]] == [False, True, True]
    assert result["results"][0]["error_code"] == "Unreachable" and "IAM user 'u1'" in result["results"][0]["msg"]
    assert_results_are_what_iam_holds(result, before, iam)
