"""The rotation plan, case by case, without AWS (the property-based tests cover the space between)."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.certops.aws.plugins.module_utils.certificate import Certificate, iso8601
from ansible_collections.certops.aws.plugins.module_utils.rotation import rotation_plan, summary_line

NOW = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def new_certificate(days_left=365, valid_since_days=1, fingerprint="NE:W0"):
    return Certificate(
        pem="-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n",
        fingerprint_sha256=fingerprint,
        subject="CN=new",
        issuer="CN=new",
        serial_number=1,
        not_before=NOW - valid_since_days * DAY,
        not_after=NOW + days_left * DAY,
    )


NEW = new_certificate()


def held(certificate_id, status="Active", days=5, fingerprint=None, uploaded="2026-01-01T00:00:00Z"):
    return {
        "certificate_id": certificate_id,
        "status": status,
        "not_after": None if days is None else iso8601(NOW + days * DAY),
        "fingerprint_sha256": fingerprint or f"FP:{certificate_id}",
        "upload_date": uploaded,
    }


def test_expiring_active_certificate_is_rotated_and_retired():
    plan = rotation_plan([held("OLD", days=5)], NEW, 30, NOW)
    assert plan.due and plan.upload and plan.rotated and plan.blocked is None
    assert plan.make_room == () and plan.retire == ("OLD",)
    assert plan.reason.startswith("the active certificate OLD expires on 2026-12-02")
    assert plan.reason.endswith(", within the threshold of 30 days")


def test_exactly_at_the_threshold_is_due_one_second_later_is_not():
    assert rotation_plan([held("OLD", days=30)], NEW, 30, NOW).due
    late = {**held("OLD"), "not_after": iso8601(NOW + 30 * DAY + datetime.timedelta(seconds=1))}
    assert not rotation_plan([late], NEW, 30, NOW).due


def test_not_due_names_the_expiry():
    plan = rotation_plan([held("OLD", days=300)], NEW, 30, NOW)
    assert not plan.due and not plan.rotated and plan.retire == () and plan.make_room == ()
    assert plan.reason.startswith("the active certificate OLD is valid until 2027-09-23")
    assert plan.reason.endswith(", beyond the threshold of 30 days")


def test_one_active_far_from_expiry_keeps_the_user_off_rotation():
    plan = rotation_plan([held("A", days=2), held("B", days=200, uploaded="2026-02-01T00:00:00Z")], NEW, 30, NOW)
    assert (
        not plan.due and plan.reason.startswith("the active certificate B is valid until") and " A " not in plan.reason
    )


def test_expired_certificate_is_due():
    assert rotation_plan([held("OLD", days=-10)], NEW, 30, NOW).due


def test_force_rotates_regardless():
    plan = rotation_plan([held("OLD", days=300)], NEW, 30, NOW, force=True)
    assert plan.due and plan.upload and plan.retire == ("OLD",) and plan.reason == "the rotation is forced (force)"


def test_user_without_certificates_gets_one():
    plan = rotation_plan([], NEW, 30, NOW)
    assert plan.due and plan.upload and plan.retire == () and plan.reason == "the user has no active certificate"


def test_quota_full_with_an_inactive_certificate_deletes_only_that_one():
    plan = rotation_plan([held("ACT", days=3), held("INA", status="Inactive", days=100)], NEW, 30, NOW)
    assert plan.make_room == ("INA",) and plan.upload and plan.retire == ("ACT",)


def test_two_inactive_certificates_the_oldest_goes():
    plan = rotation_plan(
        [
            held("NEWER", status="Inactive", uploaded="2026-06-01T00:00:00Z"),
            held("OLDER", status="Inactive", uploaded="2026-01-01T00:00:00Z"),
        ],
        NEW,
        30,
        NOW,
    )
    assert plan.make_room == ("OLDER",) and plan.retire == ()


def test_two_active_certificates_block_without_any_change():
    plan = rotation_plan([held("A", days=3), held("B", days=4)], NEW, 30, NOW)
    assert plan.blocked is not None and plan.blocked.error_code == "LimitExceeded"
    assert "already has 2 active signing certificates" in plan.blocked.message
    assert not plan.upload and plan.make_room == () and plan.retire == ()


def test_new_certificate_already_active_retires_the_due_ones():
    plan = rotation_plan([held("OLD", days=3), held("NEWID", fingerprint="NE:W0", days=365)], NEW, 30, NOW)
    assert plan.due and not plan.rotated and plan.retire == ("OLD",)
    assert "already active as NEWID" in plan.reason


def test_new_certificate_already_active_keeps_a_healthy_certificate():
    """A certificate far from expiry is never retired just because the new one is active too."""
    plan = rotation_plan([held("HEALTHY", days=300), held("NEWID", fingerprint="NE:W0", days=365)], NEW, 30, NOW)
    assert plan.retire == () and not plan.rotated


def test_new_certificate_already_active_but_expired_is_never_kept_as_the_one_to_use():
    expired_new = new_certificate(days_left=-1, valid_since_days=300)
    plan = rotation_plan([held("HEALTHY", days=300), held("NEWID", fingerprint="NE:W0", days=-1)], expired_new, 30, NOW)
    assert plan.blocked is not None and plan.blocked.error_code == "CertificateExpired"
    assert plan.retire == () and not plan.rotated


@pytest.mark.parametrize(
    ("new", "code"),
    [
        (new_certificate(days_left=-1, valid_since_days=300), "CertificateExpired"),
        (new_certificate(valid_since_days=-2), "CertificateNotYetValid"),
    ],
)
def test_an_invalid_new_certificate_blocks_before_room_is_made(new, code):
    plan = rotation_plan([held("ACT", days=3), held("INA", status="Inactive")], new, 30, NOW)
    assert plan.blocked is not None and plan.blocked.error_code == code
    assert plan.make_room == () and plan.retire == () and not plan.upload


def test_a_new_certificate_due_itself_is_refused_unless_forced():
    short = new_certificate(days_left=10)
    plan = rotation_plan([held("OLD", days=3)], short, 30, NOW)
    assert plan.blocked is not None and "within the threshold of 30 days itself" in plan.blocked.message
    assert rotation_plan([held("OLD", days=3)], short, 30, NOW, force=True).upload


def test_a_certificate_held_by_another_user_blocks_before_room_is_made():
    records = [held("ACT", days=3), held("INA", status="Inactive")]
    plan = rotation_plan(records, NEW, 30, NOW, owner_elsewhere="carol")
    assert plan.blocked is not None and plan.blocked.error_code == "DuplicateCertificate"
    assert "already uploaded to IAM user 'carol'" in plan.blocked.message
    assert plan.make_room == () and plan.retire == ()


def test_rerun_after_rotation_changes_nothing():
    records = [held("OLD", status="Inactive", days=3), held("NEWID", fingerprint="NE:W0", days=365)]
    plan = rotation_plan(records, NEW, 30, NOW)
    assert plan.retire == () and plan.make_room == () and not plan.rotated


def test_new_certificate_uploaded_but_inactive_is_activated_without_making_room():
    records = [held("OLD", days=3), held("NEWID", status="Inactive", fingerprint="NE:W0", days=365)]
    plan = rotation_plan(records, NEW, 30, NOW)
    assert plan.activate and not plan.upload and plan.make_room == () and plan.retire == ("OLD",)


def test_unknown_expiry_is_not_rotated_without_force():
    plan = rotation_plan([held("ODD", days=None)], NEW, 30, NOW)
    assert (
        not plan.due
        and plan.reason == "the expiry date of the active certificate ODD cannot be read, so it is never taken as due"
    )
    assert rotation_plan([held("ODD", days=None)], NEW, 30, NOW, force=True).retire == ("ODD",)


def test_plan_as_a_dict_for_the_filter():
    plan = rotation_plan([held("ACT", days=3), held("INA", status="Inactive")], NEW, 30, NOW).as_dict()
    assert plan["make_room"] == ["INA"] and plan["retire"] == ["ACT"] and plan["rotated"] is True
    assert plan["blocked"] is None and plan["error_code"] is None


# --- the reason and the summary line, in plain words ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "force", "reason"),
    [
        (
            [held("OLD", days=5)],
            False,
            "the active certificate OLD expires on 2026-12-02T12:00:00Z, within the threshold of 30 days",
        ),
        ([held("OLD", days=-3)], False, "the active certificate OLD expired on 2026-11-24T12:00:00Z"),
        (
            [held("OLD", days=300)],
            False,
            "the active certificate OLD is valid until 2027-09-23T12:00:00Z, beyond the threshold of 30 days",
        ),
        (
            [held("A", days=None), held("B", days=None, uploaded="2026-02-01T00:00:00Z")],
            False,
            "the expiry dates of the active certificates A, B cannot be read, so they are never taken as due",
        ),
        ([held("OLD", days=300)], True, "the rotation is forced (force)"),
        (
            [held("OLD", status="Inactive")],
            True,
            "the rotation is forced (force), and the user has no active certificate",
        ),
        (
            [held("NEWID", fingerprint="NE:W0", uploaded="2026-03-01T00:00:00Z"), held("OLD", days=400)],
            True,
            "the new certificate is already active as NEWID, and the rotation is forced (force) for OLD",
        ),
    ],
    ids=["due", "expired", "not-due", "unreadable", "forced", "forced-no-active", "forced-already-active"],
)
def test_the_reason_says_why_in_plain_words(records, force, reason):
    assert rotation_plan(records, NEW, 30, NOW, force=force).reason == reason


def entry(**overrides):
    base = {"rotated": False, "reason": "R", "new_certificate_id": None, "retired": [], "deleted_to_make_room": []}
    return {"failed": False, "msg": "", **base, **overrides}


@pytest.mark.parametrize(
    ("result", "check_mode", "by_deleting", "line"),
    [
        (
            entry(rotated=True, new_certificate_id="N", retired=["O"]),
            False,
            False,
            "rotated to N because R; deactivated the old O",
        ),
        (
            entry(rotated=True, retired=["O"]),
            True,
            False,
            "would rotate to the new certificate because R; would deactivate the old O",
        ),
        (
            entry(rotated=True, new_certificate_id="N", deleted_to_make_room=["I"], retired=["O"]),
            True,
            True,
            "would rotate to N because R; would delete the inactive I to make room; would delete the old O",
        ),
        (
            entry(new_certificate_id="N", retired=["O"]),
            False,
            False,
            "not rotated again because R; deactivated the old O",
        ),
        (entry(), True, False, "would not rotate because R"),
        (entry(failed=True, msg="cannot rotate: M"), True, False, "FAILED: cannot rotate: M"),
    ],
    ids=["rotated", "would-rotate", "activate-known-id-make-room-delete", "already-active", "not-due", "failed"],
)
def test_the_summary_line_says_what_was_or_would_be_done(result, check_mode, by_deleting, line):
    assert summary_line(result, check_mode, by_deleting) == line


ids = st.lists(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=8), max_size=2)


@given(
    result=st.fixed_dictionaries(
        {
            "failed": st.booleans(),
            "msg": st.text(min_size=1, max_size=20),
            "rotated": st.booleans(),
            "reason": st.text(alphabet="abcdefgh ,.:", max_size=20),
            "new_certificate_id": st.one_of(st.none(), st.text(min_size=1, max_size=8)),
            "retired": ids,
            "deleted_to_make_room": ids,
        }
    ),
    check_mode=st.booleans(),
    by_deleting=st.booleans(),
)
def test_a_summary_speaks_in_the_conditional_exactly_in_check_mode(result, check_mode, by_deleting):
    line = summary_line(result, check_mode, by_deleting)
    if result["failed"]:
        assert line == f"FAILED: {result['msg']}"
        return
    clauses = line.split("; ")
    assert all(clause.startswith("would ") == check_mode for clause in clauses), line
    for certificate_id in result["retired"] + result["deleted_to_make_room"]:
        assert certificate_id in line
