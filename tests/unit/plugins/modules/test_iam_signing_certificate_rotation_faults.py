"""certops.aws.iam_signing_certificate_rotation when IAM fails part-way: a denied lookup, a dropped connection, the
endpoint lost mid-run, a lost answer. Every entry, `changed` and the diff must say what IAM holds afterwards."""

from __future__ import annotations

import pytest

from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate_rotation as module
from tests.fleet_truth import assert_results_are_what_iam_holds, holdings
from tests.unit.conftest import server_certificates
from tests.unit.plugins.modules.test_iam_signing_certificate import upload_directly

EXPIRED = {"days": -1, "starts_in_days": -30}


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


def test_a_user_refused_when_the_owner_lookup_is_denied_reports_nothing_done(iam, run, inject, cert):
    """Deleting an expired spare cannot be undone, so who else holds the new certificate is looked up first."""
    users = due_users(iam, cert, ["alice"], spare="expired")
    before = holdings(iam, ["alice"])
    inject.fail("ListUsers", "AccessDenied", 403, times=2)
    preview = rotate(run, users, check_mode=True)
    result = rotate(run, users)
    (entry,) = result["results"]
    assert entry["failed"] and "could not find out whether another user holds the new certificate" in entry["msg"]
    assert not entry["rotated"] and not entry["changed"] and entry["retired"] == entry["deleted_to_make_room"] == []
    assert result["diff"]["after"]["users"] == {}
    assert_results_are_what_iam_holds(result, before, iam)
    assert preview["results"] == result["results"]


def test_a_valid_spare_is_deleted_to_make_room_without_listing_the_account(iam, run, calls, inject, cert):
    """A deleted certificate that is still valid can be put back if the upload fails: no account-wide lookup."""
    users = due_users(iam, cert, ["alice"], spare="valid")
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
