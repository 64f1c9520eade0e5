"""certops.aws.iam_signing_certificate_rotation against moto: one user and many, isolation, exact check mode,
whole or nothing, exact call counts."""

from __future__ import annotations

import json

import boto3
import pytest

from ansible_collections.certops.aws.plugins.module_utils.iam import SigningCertificates
from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate_rotation as module
from tests.unit.conftest import server_certificates
from tests.unit.plugins.modules.test_iam_signing_certificate import upload_directly
from tools.certs import private_key_pem

OUTCOME = ("user_name", "rotated", "retired", "deleted_to_make_room", "failed", "changed")


def comparable(result):
    return [{key: entry[key] for key in OUTCOME} for entry in result["results"]]


def rotate(run, users, check_mode=False, **options):
    return run(module, {"users": users, "verify_delay": 0, **options}, check_mode=check_mode)


def test_due_user_is_rotated_with_exact_calls(iam, run, calls, cert):
    old = upload_directly(iam, cert("old", days=5))
    result = rotate(run, [{"user_name": "alice", "new_certificate": cert("new")}])
    (entry,) = result["results"]
    new = entry["new_certificate_id"]
    assert result["changed"] is True and entry["rotated"] and entry["retired"] == [old]
    assert server_certificates(iam) == {old: "Inactive", new: "Active"}
    assert calls == [
        "ListSigningCertificates",  # read
        "UploadSigningCertificate",
        "ListSigningCertificates",  # verify
        "UpdateSigningCertificate",  # retire
    ]

    calls.clear()
    again = rotate(run, [{"user_name": "alice", "new_certificate": cert("new")}])
    assert again["changed"] is False and calls == ["ListSigningCertificates"]


def test_check_mode_says_exactly_what_the_real_run_does_when_room_is_made(iam, run, calls, cert):
    old = upload_directly(iam, cert("old", days=5))
    spare = upload_directly(iam, cert("spare", days=200), status="Inactive")
    users = [{"user_name": "alice", "new_certificate": cert("new")}]

    preview = rotate(run, users, check_mode=True)
    assert calls.writes == [] and server_certificates(iam) == {old: "Active", spare: "Inactive"}
    assert comparable(preview) == [
        {
            "user_name": "alice",
            "rotated": True,
            "retired": [old],
            "deleted_to_make_room": [spare],
            "failed": False,
            "changed": True,
        }
    ]
    real = rotate(run, users)
    assert comparable(real) == comparable(preview)
    assert calls.writes == [
        "DeleteSigningCertificate",
        "UploadSigningCertificate",
        "UpdateSigningCertificate",
    ]


def test_a_blocked_user_in_the_middle_does_not_stop_the_others(iam, run, cert):
    for name in ("u1", "u2", "u3"):
        iam.create_user(UserName=name)
    old = {name: upload_directly(iam, cert(f"{name}-old", days=3), user_name=name) for name in ("u1", "u3")}
    blocking = [upload_directly(iam, cert(f"u2-{n}", days=3), user_name="u2") for n in (1, 2)]
    users = [{"user_name": name, "new_certificate": cert(f"{name}-new")} for name in ("u1", "u2", "u3")]

    result = rotate(run, users)
    assert result["failed"] and result["error_code"] == "RotationFailed" and result["changed"] is True
    assert result["msg"].startswith("1 of 3 users could not be rotated: u2: cannot rotate: the user already has 2")
    u1, u2, u3 = result["results"]
    assert u1["rotated"] and u3["rotated"] and not u2["rotated"] and u2["failed"]
    assert u2["error_code"] == "LimitExceeded"
    for name in ("u1", "u3"):
        assert server_certificates(iam, name)[old[name]] == "Inactive"
    assert server_certificates(iam, "u2") == dict.fromkeys(blocking, "Active")


def test_bad_entries_fail_alone_and_a_private_key_is_never_shown(iam, run, calls, cert):
    iam.create_user(UserName="bob")
    upload_directly(iam, cert("bob-old", days=3), user_name="bob")
    key = private_key_pem()
    users = [
        {"user_name": "alice", "new_certificate": cert("alice-new") + key},
        {"user_name": "bøb", "new_certificate": cert("x")},
        {"user_name": "bob", "new_certificate": cert("bob-new")},
    ]
    result = rotate(run, users)
    output = json.dumps(result)
    assert not any(line in output for line in key.splitlines() if not line.startswith("-----"))
    alice, odd, bob = result["results"]
    assert alice["failed"] and "contains a private key" in alice["msg"]
    assert alice["error_code"] == "InvalidCertificateBody"
    assert odd["failed"] and "is not a valid IAM user name" in odd["msg"]
    assert bob["rotated"] and not bob["failed"]
    assert server_certificates(iam) == {}


@pytest.mark.parametrize("empty", [None, False, ""], ids=["null", "false", "empty"])
def test_an_entry_without_a_user_name_or_certificate_is_refused_alone(iam, run, cert, empty):
    iam.create_user(UserName="bob")
    users = [
        {"user_name": "n1", "new_certificate": empty},
        {"user_name": empty, "new_certificate": cert("nameless")},
        {"user_name": "n3"},
        {"user_name": "bob", "new_certificate": cert("bob-new")},
    ]
    result = rotate(run, users)
    no_certificate, no_name, missing, bob = result["results"]
    assert bob["rotated"] and not bob["failed"]
    for entry in (no_certificate, no_name, missing):
        assert entry["failed"] and not entry["changed"] and entry["error_code"] == "InvalidParameters", entry
    assert no_certificate["msg"] == "new_certificate of 'n1' is required"
    assert no_name["user_name"] is None and no_name["msg"] == "users[2]: user_name is required"
    assert missing["msg"] == "new_certificate of 'n3' is required"
    assert result["msg"].startswith("3 of 4 users could not be rotated")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (None, "users[1] must be a mapping of user_name and new_certificate, got NoneType"),
        (False, "users[1] must be a mapping of user_name and new_certificate, got bool"),
        ("carol", "users[1] must be a mapping of user_name and new_certificate, got str"),
        ([], "users[1] must be a mapping of user_name and new_certificate, got list"),
        ({"user_name": "carol", "new_certificate": "x", "extra": 1}, "users[1] has an unknown key 'extra'"),
    ],
    ids=["null", "false", "string", "list", "unknown-key"],
)
def test_an_entry_that_is_not_a_mapping_of_the_two_keys_is_refused_alone(iam, run, cert, entry, message):
    upload_directly(iam, cert("old", days=5))
    result = rotate(run, [entry, {"user_name": "alice", "new_certificate": cert("new")}])
    odd, alice = result["results"]
    assert odd["failed"] and not odd["changed"] and odd["error_code"] == "InvalidParameters"
    assert odd["msg"].startswith(message), odd["msg"]
    assert alice["rotated"] and not alice["failed"]
    assert result["msg"].startswith("1 of 2 users could not be rotated")


def test_a_user_name_templated_to_a_number_is_the_name_it_spells(iam, run, cert):
    iam.create_user(UserName="1234")
    result = rotate(run, [{"user_name": 1234, "new_certificate": cert("digits")}])
    assert result["results"][0]["user_name"] == "1234" and result["results"][0]["rotated"]


def test_the_same_user_or_certificate_twice_is_refused_before_any_call(iam, run, calls, cert):
    iam.create_user(UserName="bob")
    same = cert("shared")
    result = rotate(
        run,
        [
            {"user_name": "alice", "new_certificate": same},
            {"user_name": "bob", "new_certificate": same},
        ],
    )
    assert all(entry["failed"] for entry in result["results"])
    assert "the same new certificate is given to several users (alice, bob)" in result["msg"]
    assert calls == []

    twice = rotate(
        run,
        [{"user_name": "alice", "new_certificate": cert("a1")}, {"user_name": "alice", "new_certificate": cert("a2")}],
    )
    assert "user 'alice' appears more than once in users" in twice["msg"]


def test_an_expired_new_certificate_changes_nothing_in_check_mode_or_for_real(iam, run, calls, cert):
    old = upload_directly(iam, cert("old", days=5))
    spare = upload_directly(iam, cert("spare"), status="Inactive")
    users = [{"user_name": "alice", "new_certificate": cert("expired", days=-1, starts_in_days=-30)}]
    preview = rotate(run, users, check_mode=True)
    real = rotate(run, users)
    assert preview["msg"] == real["msg"] and "the new certificate expired on" in real["msg"]
    assert comparable(preview) == comparable(real)
    assert calls.writes == [] and server_certificates(iam) == {old: "Active", spare: "Inactive"}


def test_a_certificate_held_by_another_user_fails_the_same_in_check_mode_and_for_real(iam, run, calls, cert):
    """Without room to make: the real run learns it from IAM's DuplicateCertificate, check mode from the account."""
    iam.create_user(UserName="carol")
    theirs = cert("carols")
    upload_directly(iam, theirs, user_name="carol")
    old = upload_directly(iam, cert("old", days=5))
    users = [{"user_name": "alice", "new_certificate": theirs}]
    preview = rotate(run, users, check_mode=True)
    assert "already uploaded to IAM user 'carol'" in preview["msg"]
    assert preview["results"][0]["error_code"] == "DuplicateCertificate"
    assert server_certificates(iam) == {old: "Active"}


def test_a_failed_upload_puts_back_what_was_deleted_to_make_room(iam, run, inject, cert):
    old = upload_directly(iam, cert("old", days=5))
    spare_body = cert("spare")
    spare = upload_directly(iam, spare_body, status="Inactive")
    inject.fail("UploadSigningCertificate", "ServiceFailure", 500, times=4)  # every attempt of the first upload
    result = rotate(run, [{"user_name": "alice", "new_certificate": cert("new")}])
    assert result["failed"]
    now = server_certificates(iam)
    (restored,) = [certificate_id for certificate_id in now if certificate_id != old]
    assert now == {old: "Active", restored: "Inactive"}
    assert f"deleted to make room and then uploaded again: {spare} as {restored}" in result["msg"]
    assert "could not upload the new certificate" in result["msg"]


def test_a_put_back_certificate_that_stays_active_is_reported_as_it_is(iam, run, inject, cert):
    old = upload_directly(iam, cert("old", days=5))
    spare = upload_directly(iam, cert("spare"), status="Inactive")
    inject.fail("UploadSigningCertificate", "ServiceFailure", 500, times=4)  # every attempt of the new upload
    # The spare is uploaded again (IAM uploads it Active); making it inactive again is refused.
    inject.fail("UpdateSigningCertificate", "AccessDenied", 403)
    result = run(
        module, {"users": [{"user_name": "alice", "new_certificate": cert("new")}], "verify_delay": 0}, diff=True
    )
    assert result["failed"]
    now = server_certificates(iam)
    (restored,) = [certificate_id for certificate_id in now if certificate_id != old]
    assert now == {old: "Active", restored: "Active"}
    (entry,) = result["results"]
    assert entry["changed"] and entry["deleted_to_make_room"] == [spare]
    assert (
        f"deleted to make room and then uploaded again: {spare} as {restored} "
        f"(left Active: could not make it Inactive again: Could not set signing certificate {restored} of IAM user "
        "'alice' to Inactive: access denied" in entry["msg"]
    ), entry["msg"]
    after = {cid: c["status"] for cid, c in result["diff"]["after"]["users"]["alice"].items()}
    assert after == now, "the diff shows what IAM holds"


def test_a_new_certificate_another_run_uploaded_a_moment_ago_is_found_within_iams_consistency_window(
    iam, run, inject, lag, cert, clock
):
    old = upload_directly(iam, cert("old", days=5))
    new = cert("new")
    raced = {}
    lag.consistency_delay = 2  # IAM lists the other run's upload only 2 seconds after it

    def another_run_uploads_it_first():
        another_run = boto3.session.Session().client("iam", region_name="us-east-1")  # a new session: in the front
        raced["id"] = upload_directly(another_run, new)

    inject.then("UploadSigningCertificate", another_run_uploads_it_first)
    result = rotate(run, [{"user_name": "alice", "new_certificate": new}])
    (entry,) = result["results"]
    assert not entry["failed"], entry["msg"]
    assert entry["rotated"] and entry["new_certificate_id"] == raced["id"] and entry["retired"] == [old]
    assert server_certificates(iam) == {old: "Inactive", raced["id"]: "Active"}
    assert lag.stale_listings == 2 and 0 < sum(clock.sleeps) <= 5


def test_a_new_certificate_that_never_shows_as_active_retires_nothing(iam, run, cert, monkeypatch):
    old = upload_directly(iam, cert("old", days=5))
    reads = []
    real_list = SigningCertificates.list

    def list_hiding_the_upload(self, user_name):
        reads.append(user_name)
        listed = real_list(self, user_name)
        return listed if len(reads) == 1 else [c for c in listed if c["CertificateId"] == old]

    monkeypatch.setattr(SigningCertificates, "list", list_hiding_the_upload)
    result = rotate(run, [{"user_name": "alice", "new_certificate": cert("new")}], verify_retries=3)
    (entry,) = result["results"]
    assert entry["failed"] and entry["error_code"] == "NotVerified" and entry["rotated"] and entry["retired"] == []
    assert "after 3 tries; no certificate was retired" in entry["msg"]
    assert server_certificates(iam)[old] == "Active"
    assert len(reads) == 4  # the read, then three looks


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("threshold_days", -1, "threshold_days must be between 0 and 36500, got -1"),
        ("verify_retries", 0, "verify_retries must be between 1 and 100, got 0"),
        ("verify_delay", 61, "verify_delay must be between 0 and 60, got 61"),
        ("max_concurrency", 0, "max_concurrency must be between 1 and 64, got 0"),
        ("old_certificate_action", "archive", "value of old_certificate_action must be one of: deactivate, delete"),
    ],
)
def test_bad_options_fail_before_any_call(iam, run, calls, cert, option, value, message):
    result = rotate(run, [{"user_name": "alice", "new_certificate": cert("new")}], **{option: value})
    assert result["failed"] and message in result["msg"] and result["error_code"] == "InvalidParameters"
    assert calls == []


def test_diff_shows_each_user_that_changes_before_and_after(iam, run, cert):
    iam.create_user(UserName="bob")
    old = upload_directly(iam, cert("old", days=5))
    spare = upload_directly(iam, cert("spare"), status="Inactive")
    upload_directly(iam, cert("bob-far", days=300), user_name="bob")
    users = [
        {"user_name": "alice", "new_certificate": cert("new")},
        {"user_name": "bob", "new_certificate": cert("bob-new")},
    ]
    preview = run(module, {"users": users, "verify_delay": 0}, check_mode=True, diff=True)
    real = run(module, {"users": users, "verify_delay": 0}, diff=True)

    def view(diff, side):
        return {cid: c["status"] for cid, c in diff[side]["users"]["alice"].items()}

    new = real["results"][0]["new_certificate_id"]
    assert set(preview["diff"]["before"]["users"]) == {"alice"}  # bob is not due: no change, no diff
    assert view(preview["diff"], "before") == view(real["diff"], "before") == {old: "Active", spare: "Inactive"}
    # Keyed by user and certificate: the new certificate is never shown as a changed ID of another one.
    assert view(preview["diff"], "after") == {old: "Inactive", "(new certificate, not uploaded yet)": "Active"}
    assert view(real["diff"], "after") == {old: "Inactive", new: "Active"}
    fingerprints = {c["fingerprint_sha256"] for c in preview["diff"]["after"]["users"]["alice"].values()}
    assert fingerprints == {c["fingerprint_sha256"] for c in real["diff"]["after"]["users"]["alice"].values()}
    assert server_certificates(iam) == {old: "Inactive", new: "Active"}
