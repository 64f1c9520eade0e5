"""Property-based tests of both planners (Hypothesis): every generated case holds every invariant.

Generated: a user's 0 to 2 certificates (any mix of status and validity, unreadable bodies included, some
sharing a fingerprint or an ID with the request), a request or a rotation (new certificate valid, expired,
not yet valid or expiring soon; threshold; force; another owner). The plans are carried out on a small model
of IAM here, and the invariants are checked on what that leaves.

Derandomised (a failure reproduces on every run); CERTOPS_HYPOTHESIS_EXAMPLES raises the number of cases.
"""

from __future__ import annotations

import datetime
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.certops.aws.plugins.module_utils.certificate import Certificate, iso8601
from ansible_collections.certops.aws.plugins.module_utils.planner import (
    DELETE,
    SET_STATUS,
    STATES,
    UPLOAD,
    Request,
    plan_certificate,
    shows_as_requested,
)
from ansible_collections.certops.aws.plugins.module_utils.rotation import rotation_plan
from ansible_collections.certops.aws.plugins.module_utils.rules import QUOTA_PER_USER, expiring_within

settings.register_profile(
    "certops",
    derandomize=True,
    max_examples=int(os.environ.get("CERTOPS_HYPOTHESIS_EXAMPLES", "1500")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
settings.load_profile("certops")

NOW = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)
FINGERPRINTS = ["FP:A", "FP:B", "FP:C"]
IDS = [letter * 24 for letter in "ABCD"]
NEW_ID = "N" * 24
# (not_before, not_after) relative to now, in days; None: the body could not be parsed.
VALIDITY = {
    "valid": (-10, 300),
    "expires-soon": (-300, 5),
    "expires-at-threshold": (-300, 30),
    "expired": (-300, -1),
    "not-yet-valid": (2, 300),
}


def window(name):
    start, end = VALIDITY[name]
    return NOW + start * DAY, NOW + end * DAY


@st.composite
def held_certificate(draw):
    unreadable = draw(st.booleans()) and draw(st.booleans())  # about one in four
    validity = draw(st.sampled_from(sorted(VALIDITY)))
    not_before, not_after = window(validity)
    return {
        "certificate_id": draw(st.sampled_from(IDS)),
        "user_name": "alice",
        "status": draw(st.sampled_from(["Active", "Inactive", "Expired"])),
        "upload_date": iso8601(NOW - draw(st.integers(1, 900)) * DAY),
        "fingerprint_sha256": None if unreadable else draw(st.sampled_from(FINGERPRINTS)),
        "not_before": None if unreadable else iso8601(not_before),
        "not_after": None if unreadable else iso8601(not_after),
    }


def _fingerprint_key(record):
    # Unreadable bodies never collide with each other; readable ones are unique per user, as in IAM.
    return record["fingerprint_sha256"] or record["certificate_id"]


held_certificates = st.lists(
    held_certificate(), max_size=QUOTA_PER_USER, unique_by=(lambda r: r["certificate_id"], _fingerprint_key)
)


@st.composite
def certificate(draw):
    not_before, not_after = window(draw(st.sampled_from(sorted(VALIDITY))))
    fingerprint = draw(st.sampled_from(FINGERPRINTS))
    return Certificate(
        pem=f"PEM of {fingerprint}",
        fingerprint_sha256=fingerprint,
        subject="CN=x",
        issuer="CN=x",
        serial_number=1,
        not_before=not_before,
        not_after=not_after,
    )


@st.composite
def request(draw):
    body = draw(st.none() | certificate())
    certificate_id = draw(st.none() | st.sampled_from(IDS))
    if body is None and certificate_id is None:
        certificate_id = IDS[0]
    return Request("alice", draw(st.sampled_from(STATES)), body, certificate_id)


def valid_now(cert: Certificate) -> bool:
    return cert.not_before <= NOW <= cert.not_after


# --- a model of IAM, to carry plans out ----------------------------------------------------------------------


def carry_out_certificate_plan(records, plan, body):
    state = [dict(r) for r in records]
    for action in plan.actions:
        if action.kind == UPLOAD:
            assert len(state) < QUOTA_PER_USER, "IAM would refuse: LimitExceeded"
            assert all(r["fingerprint_sha256"] != body.fingerprint_sha256 for r in state), "DuplicateCertificate"
            state.append(
                {
                    "certificate_id": NEW_ID,
                    "status": "Active",
                    "fingerprint_sha256": body.fingerprint_sha256,
                    "not_before": iso8601(body.not_before),
                    "not_after": iso8601(body.not_after),
                    "upload_date": iso8601(NOW),
                    "user_name": "alice",
                }
            )
        elif action.kind == SET_STATUS:
            (target,) = [r for r in state if r["certificate_id"] == (action.certificate_id or NEW_ID)]
            target["status"] = action.status
        elif action.kind == DELETE:
            (target,) = [r for r in state if r["certificate_id"] == action.certificate_id]
            state.remove(target)
    return state


def identity(records):
    return sorted((r["certificate_id"] or NEW_ID, r["status"], r["fingerprint_sha256"]) for r in records)


# --- the certificate plan ------------------------------------------------------------------------------------


@given(held_certificates, request())
def test_certificate_plan_invariants(records, req):
    plan = plan_certificate(records, req, NOW)
    before_ids = {r["certificate_id"] for r in records}

    if plan.refusal is not None:
        # Whole or nothing: a refused plan has nothing to do, and names why with a code.
        assert plan.actions == () and plan.refusal.message and plan.refusal.error_code
        return

    after = carry_out_certificate_plan(records, plan, req.certificate)
    # Check mode and diff are the plan: carrying it out gives exactly the predicted after.
    assert identity(after) == identity(plan.after)
    assert plan.changed == (identity(after) != identity(records))
    assert len(after) <= QUOTA_PER_USER

    kinds = [action.kind for action in plan.actions]
    if UPLOAD in kinds:
        assert req.certificate is not None and req.certificate_id is None
        assert valid_now(req.certificate), "an expired or not-yet-valid certificate is never uploaded"
        assert kinds in ([UPLOAD], [UPLOAD, SET_STATUS])
    else:
        assert len(kinds) <= 1, "at most one write per certificate"

    # Only the certificate the request names is touched.
    touched = {action.certificate_id for action in plan.actions if action.kind != UPLOAD} - {None}
    target_ids = {plan.target["certificate_id"]} if plan.target else set()
    if req.state == "absent":
        target_ids = before_ids - {r["certificate_id"] for r in after}
    assert touched <= target_ids

    if req.state == "absent":
        assert plan.target is None
        assert all(
            r["certificate_id"] != req.certificate_id
            and (req.certificate is None or r["fingerprint_sha256"] != req.certificate.fingerprint_sha256)
            for r in after
        )
    else:
        assert plan.target is not None
        if req.certificate is not None:
            assert plan.target["fingerprint_sha256"] == req.certificate.fingerprint_sha256
        if req.certificate_id is not None:
            assert plan.target["certificate_id"] == req.certificate_id
        wanted = {"active": "Active", "inactive": "Inactive"}.get(req.state)
        if wanted:
            assert plan.target["status"] == wanted
        elif plan.target["certificate_id"] in before_ids:  # present leaves an existing status alone
            assert not plan.actions

    # Idempotent: the same request on what the plan leaves asks for nothing more.
    again = plan_certificate(after, req, NOW)
    assert again.refusal is None and again.actions == ()

    # The wait's decision agrees with the plan: a listing shows the request carried out exactly when there is
    # nothing to write, and what the plan leaves shows it.
    assert plan.changed is not shows_as_requested(records, req)
    assert shows_as_requested(after, req)


@given(held_certificates, request())
def test_a_refusal_is_the_same_whatever_the_order_of_the_listing(records, req):
    forward = plan_certificate(records, req, NOW)
    backward = plan_certificate(list(reversed(records)), req, NOW)
    assert forward.refusal == backward.refusal and forward.actions == backward.actions


# --- the rotation plan ---------------------------------------------------------------------------------------


def carry_out_rotation(records, plan, new, retire_by_deleting):
    state = [dict(r) for r in records]
    for certificate_id in plan.make_room:
        (target,) = [r for r in state if r["certificate_id"] == certificate_id]
        assert target["status"] != "Active", "an active certificate is never deleted to make room"
        state.remove(target)
    if plan.upload:
        assert len(state) < QUOTA_PER_USER, "IAM would refuse: LimitExceeded"
        state.append(
            {
                "certificate_id": NEW_ID,
                "status": "Active",
                "fingerprint_sha256": new.fingerprint_sha256,
                "not_before": iso8601(new.not_before),
                "not_after": iso8601(new.not_after),
                "upload_date": iso8601(NOW),
            }
        )
    if plan.activate:
        (target,) = [r for r in state if r["fingerprint_sha256"] == new.fingerprint_sha256]
        target["status"] = "Active"
    for certificate_id in plan.retire:
        (target,) = [r for r in state if r["certificate_id"] == certificate_id]
        if retire_by_deleting:
            state.remove(target)
        else:
            target["status"] = "Inactive"
    return state


@given(
    held_certificates,
    certificate(),
    st.integers(0, 60),
    st.booleans(),
    st.none() | st.just("carol"),
    st.booleans(),
)
def test_rotation_plan_invariants(records, new, threshold, force, owner_elsewhere, retire_by_deleting):
    plan = rotation_plan(records, new, threshold, NOW, force, owner_elsewhere)
    by_id = {r["certificate_id"]: r for r in records}
    new_record = next((r for r in records if r["fingerprint_sha256"] == new.fingerprint_sha256), None)

    assert plan.rotated == (plan.upload or plan.activate)
    assert not (plan.upload and plan.activate)
    if plan.blocked is not None:
        # Whole or nothing.
        assert (plan.make_room, plan.upload, plan.activate, plan.retire) == ((), False, False, ())
        return

    if plan.rotated or plan.retire or plan.make_room:
        # Never an expired or not-yet-valid certificate as the one to keep.
        assert valid_now(new)
    if plan.upload:
        assert new_record is None and owner_elsewhere is None
    for certificate_id in plan.retire:
        retired = by_id[certificate_id]
        assert retired["status"] == "Active" and retired is not new_record
        assert force or expiring_within(retired, threshold, NOW), "only due certificates are retired"
    for certificate_id in plan.make_room:
        assert by_id[certificate_id]["status"] != "Active"
    if plan.make_room:
        assert plan.upload

    after = carry_out_rotation(records, plan, new, retire_by_deleting)
    assert len(after) <= QUOTA_PER_USER
    if plan.rotated or plan.retire:
        # Never fewer active certificates than a valid one: the new certificate is active.
        active_new = [r for r in after if r["fingerprint_sha256"] == new.fingerprint_sha256 and r["status"] == "Active"]
        assert len(active_new) == 1
    if not force and not plan.rotated and (new_record is None or new_record["status"] != "Active"):
        assert plan.retire == () and plan.make_room == ()

    # Idempotent: the same rotation again has nothing left to do.
    again = rotation_plan(after, new, threshold, NOW, force, None)
    assert again.blocked is None
    assert (again.make_room, again.upload, again.activate, again.retire) == ((), False, False, ())


@given(held_certificates, certificate(), st.integers(0, 60), st.booleans())
def test_a_rotation_that_makes_room_is_blocked_by_another_owner(records, new, threshold, force):
    plan = rotation_plan(records, new, threshold, NOW, force)
    if plan.upload:
        elsewhere = rotation_plan(records, new, threshold, NOW, force, owner_elsewhere="carol")
        assert elsewhere.blocked is not None and elsewhere.blocked.error_code == "DuplicateCertificate"
