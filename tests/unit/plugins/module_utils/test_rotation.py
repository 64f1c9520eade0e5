"""The rotation decision, case by case, without AWS."""

from __future__ import annotations

from ansible_collections.certops.aws.plugins.module_utils.rotation import rotation_plan

NEW = "NE:W0"


def certificate(certificate_id, status="Active", days=5, fingerprint=None, uploaded="2026-01-01T00:00:00Z"):
    return {
        "certificate_id": certificate_id,
        "status": status,
        "days_to_expiry": days,
        "not_after": "2026-12-01T00:00:00Z",
        "fingerprint_sha256": fingerprint or f"FP:{certificate_id}",
        "upload_date": uploaded,
    }


def test_expiring_active_certificate_is_rotated_and_retired():
    plan = rotation_plan([certificate("OLD", days=5)], NEW, 30)
    assert plan["due"] and plan["upload"] and plan["blocked"] is None
    assert plan["make_room"] == [] and plan["retire"] == ["OLD"]
    assert plan["reason"].startswith("every active certificate expires within 30 days: OLD (Active")


def test_not_due_names_the_days_left():
    plan = rotation_plan([certificate("OLD", days=300)], NEW, 30)
    assert not plan["due"] and not plan["upload"] and plan["retire"] == [] and plan["make_room"] == []
    assert "no rotation needed" in plan["reason"] and "300 days left" in plan["reason"]


def test_one_active_far_from_expiry_keeps_the_user_off_rotation():
    plan = rotation_plan(
        [certificate("A", days=2), certificate("B", days=200, uploaded="2026-02-01T00:00:00Z")], NEW, 30
    )
    assert not plan["due"] and "B (Active" in plan["reason"] and "A (Active" not in plan["reason"]


def test_expired_certificate_is_due():
    assert rotation_plan([certificate("OLD", days=-10)], NEW, 30)["due"]


def test_force_rotates_regardless():
    plan = rotation_plan([certificate("OLD", days=300)], NEW, 30, force=True)
    assert plan["due"] and plan["upload"] and plan["retire"] == ["OLD"] and plan["reason"] == "rotation forced"


def test_user_without_certificates_gets_one():
    plan = rotation_plan([], NEW, 30)
    assert (
        plan["due"]
        and plan["upload"]
        and plan["retire"] == []
        and plan["reason"] == "the user has no active certificate"
    )


def test_quota_full_with_an_inactive_certificate_deletes_only_that_one():
    plan = rotation_plan([certificate("OLD", days=5), certificate("GONE", status="Inactive")], NEW, 30)
    assert plan["make_room"] == ["GONE"] and plan["retire"] == ["OLD"] and plan["upload"]


def test_two_inactive_certificates_the_oldest_goes():
    plan = rotation_plan(
        [
            certificate("NEWER", status="Inactive", uploaded="2026-03-01T00:00:00Z"),
            certificate("OLDER", status="Inactive", uploaded="2026-01-01T00:00:00Z"),
        ],
        NEW,
        30,
    )
    assert plan["make_room"] == ["OLDER"] and plan["retire"] == []


def test_two_active_certificates_block_without_any_change():
    plan = rotation_plan([certificate("A", days=1), certificate("B", days=2)], NEW, 30)
    assert plan["blocked"] and not plan["upload"] and plan["make_room"] == [] and plan["retire"] == []
    assert "already has 2 active signing certificates (A (Active" in plan["blocked"] and "B (Active" in plan["blocked"]
    assert "never deletes an active certificate" in plan["blocked"]


def test_new_certificate_already_active_is_done_with_pending_retirement():
    plan = rotation_plan([certificate("OLD", days=5), certificate("NEWID", days=365, fingerprint=NEW)], NEW, 30)
    assert plan["due"] and not plan["upload"] and plan["make_room"] == []
    assert plan["retire"] == ["OLD"] and plan["uploaded"]["certificate_id"] == "NEWID"
    assert "already uploaded and active as NEWID" in plan["reason"]


def test_rerun_after_rotation_changes_nothing():
    plan = rotation_plan(
        [certificate("OLD", status="Inactive", days=5), certificate("NEWID", days=365, fingerprint=NEW)], NEW, 30
    )
    assert plan["due"] and not plan["upload"] and plan["make_room"] == [] and plan["retire"] == []


def test_new_certificate_uploaded_but_inactive_is_activated_without_making_room():
    plan = rotation_plan(
        [certificate("OLD", days=5), certificate("NEWID", status="Inactive", days=365, fingerprint=NEW)], NEW, 30
    )
    assert plan["upload"] and plan["make_room"] == [] and plan["retire"] == ["OLD"] and plan["blocked"] is None


def test_unknown_expiry_is_not_rotated_without_force():
    plan = rotation_plan([certificate("ODD", days=None)], NEW, 30)
    assert not plan["due"] and "unknown days left" in plan["reason"]
