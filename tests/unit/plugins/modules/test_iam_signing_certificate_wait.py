"""iam_signing_certificate with wait: after its writes, the task lists again until IAM shows them.

IAM's lag is simulated in front of moto (the `lag` fixture: the listings after a write show what the listing
before it showed) and the wait's clock is faked (the `clock` fixture), so no test sleeps.
"""

from __future__ import annotations

import pytest

from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate as module
from tests.unit.conftest import server_certificates
from tests.unit.plugins.modules.test_iam_signing_certificate import upload_directly

LIST, UPLOAD, UPDATE, DELETE = (
    "ListSigningCertificates",
    "UploadSigningCertificate",
    "UpdateSigningCertificate",
    "DeleteSigningCertificate",
)
NEVER = 10**6  # listings behind: IAM never catches up within any wait_timeout


@pytest.fixture
def body(cert):
    return cert("waited-for")


def server_record(iam, certificate_id, user_name="alice"):
    listed = iam.list_signing_certificates(UserName=user_name)["Certificates"]
    return next(c for c in listed if c["CertificateId"] == certificate_id)


# --- the writes show: the task returns once a listing shows them ----------------------------------------------


def test_upload_shown_at_the_first_listing(iam, run, calls, clock, body):
    result = run(module, {"user_name": "alice", "certificate_body": body, "wait": True})
    assert result["changed"] is True
    (certificate_id,) = server_certificates(iam)
    assert server_certificates(iam) == {certificate_id: "Active"}
    assert calls == [LIST, UPLOAD, LIST]
    assert clock.sleeps == []
    assert result["certificate"]["certificate_id"] == certificate_id
    assert result["certificate"]["status"] == "Active"
    assert [c["certificate_id"] for c in result["certificates"]] == [certificate_id]


def test_upload_shown_after_three_stale_listings_looks_every_second(iam, run, calls, clock, lag, body):
    lag.consistency_delay = 3
    result = run(module, {"user_name": "alice", "certificate_body": body, "wait": True, "wait_timeout": 10})
    assert result["changed"] is True
    (certificate_id,) = server_certificates(iam)
    assert calls == [LIST, UPLOAD, LIST, LIST, LIST, LIST]
    assert lag.stale_listings == 3
    assert clock.sleeps == [1.0, 1.0, 1.0]
    assert result["certificate"]["certificate_id"] == certificate_id
    assert result["certificate"]["upload_date"] == server_record(iam, certificate_id)["UploadDate"].strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def test_deactivation_waits_until_listed_inactive(iam, run, calls, clock, lag, body):
    certificate_id = upload_directly(iam, body)
    lag.consistency_delay = 2
    result = run(module, {"user_name": "alice", "certificate_id": certificate_id, "state": "inactive", "wait": True})
    assert result["changed"] is True
    assert server_certificates(iam) == {certificate_id: "Inactive"}
    assert calls == [LIST, UPDATE, LIST, LIST, LIST]
    assert clock.sleeps == [1.0, 1.0]
    assert result["certificate"]["status"] == "Inactive"


def test_absent_waits_until_no_longer_listed(iam, run, calls, clock, lag, body):
    upload_directly(iam, body)
    lag.consistency_delay = 2
    result = run(module, {"user_name": "alice", "certificate_body": body, "state": "absent", "wait": True})
    assert result["changed"] is True
    assert server_certificates(iam) == {}
    assert calls == [LIST, DELETE, LIST, LIST, LIST]
    assert result["certificate"] is None and result["certificates"] == []


def test_new_inactive_upload_waits_for_both_writes(iam, run, calls, clock, lag, body):
    lag.consistency_delay = 1
    result = run(module, {"user_name": "alice", "certificate_body": body, "state": "inactive", "wait": True})
    (certificate_id,) = server_certificates(iam)
    assert server_certificates(iam) == {certificate_id: "Inactive"}
    assert calls == [LIST, UPLOAD, UPDATE, LIST, LIST]
    assert result["certificate"]["certificate_id"] == certificate_id
    assert result["certificate"]["status"] == "Inactive"


def test_results_are_the_confirming_listing_and_the_diff_is_the_plan(iam, run, inject, clock, cert, body):
    other = cert("someone-elses")
    # Another writer uploads a second certificate between this task's upload and its wait.
    inject.then(UPLOAD, lambda: inject.then(LIST, lambda: upload_directly(iam, other)))
    result = run(module, {"user_name": "alice", "certificate_body": body, "wait": True}, diff=True)
    assert result["changed"] is True
    assert {c["certificate_id"] for c in result["certificates"]} == set(server_certificates(iam))
    assert len(result["certificates"]) == 2
    assert [c["fingerprint_sha256"] for c in result["diff"]["after"]["certificates"]] == [
        result["certificate"]["fingerprint_sha256"]
    ]


# --- the writes do not show in time: NotVisible, changed, the certificate as written ---------------------------


def test_upload_never_shown_fails_not_visible_after_wait_timeout(iam, run, calls, clock, lag, body):
    lag.consistency_delay = NEVER
    result = run(module, {"user_name": "alice", "certificate_body": body, "wait": True, "wait_timeout": 5})
    (certificate_id,) = server_certificates(iam)
    assert result["failed"] and result["changed"] is True
    assert result["error_code"] == "NotVisible"
    assert result["msg"] == (
        f"Signing certificate {certificate_id} of IAM user 'alice' was uploaded, but IAM did not list it within "
        "5 seconds (wait_timeout). IAM is eventually consistent: the change took effect; look again later or raise "
        "wait_timeout"
    )
    assert result["certificate"]["certificate_id"] == certificate_id
    assert result["certificate"]["status"] == "Active"
    # One listing at once, then one a second until the deadline, never sleeping past it.
    assert calls == [LIST, UPLOAD] + [LIST] * 6
    assert sum(clock.sleeps) == 5


def test_wait_timeout_zero_lists_once(iam, run, calls, clock, lag, body):
    lag.consistency_delay = NEVER
    result = run(module, {"user_name": "alice", "certificate_body": body, "wait": True, "wait_timeout": 0})
    assert result["failed"] and result["changed"] is True and result["error_code"] == "NotVisible"
    assert "did not list it within 0 seconds" in result["msg"]
    assert calls == [LIST, UPLOAD, LIST]
    assert clock.sleeps == []


def test_status_never_shown_names_the_status_asked(iam, run, clock, lag, body):
    certificate_id = upload_directly(iam, body, status="Inactive")
    lag.consistency_delay = NEVER
    result = run(
        module, {"user_name": "alice", "certificate_body": body, "state": "active", "wait": True, "wait_timeout": 2}
    )
    assert result["failed"] and result["changed"] is True and result["error_code"] == "NotVisible"
    assert result["msg"].startswith(
        f"Signing certificate {certificate_id} of IAM user 'alice' was set to Active, but IAM did not list it as "
        "Active within 2 seconds"
    )
    assert result["certificate"]["status"] == "Active"
    assert server_certificates(iam) == {certificate_id: "Active"}


def test_deletion_never_shown_fails_not_visible(iam, run, clock, lag, body):
    certificate_id = upload_directly(iam, body)
    lag.consistency_delay = NEVER
    result = run(
        module,
        {"user_name": "alice", "certificate_id": certificate_id, "state": "absent", "wait": True, "wait_timeout": 1},
    )
    assert result["failed"] and result["changed"] is True and result["error_code"] == "NotVisible"
    assert result["msg"].startswith(
        f"Signing certificate {certificate_id} of IAM user 'alice' was deleted, but IAM did not stop listing it "
        "within 1 second (wait_timeout)."
    )
    assert result["certificate"] is None
    assert server_certificates(iam) == {}


def test_a_listing_that_fails_during_the_wait_says_what_was_written(iam, run, inject, clock, body):
    inject.then(UPLOAD, lambda: inject.fail(LIST, "AccessDenied", 403))
    result = run(module, {"user_name": "alice", "certificate_body": body, "wait": True})
    (certificate_id,) = server_certificates(iam)
    assert result["failed"] and result["changed"] is True
    assert result["error_code"] == "AccessDenied"
    assert result["msg"].startswith(
        f"Signing certificate {certificate_id} of IAM user 'alice' was uploaded, but then: Could not list the "
        "signing certificates of IAM user 'alice': access denied"
    )
    assert result["certificate"]["certificate_id"] == certificate_id


# --- nothing to wait for: no extra call -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state"), [("Active", "present"), ("Active", "active"), ("Inactive", "inactive"), (None, "absent")]
)
def test_a_task_that_writes_nothing_does_not_wait(iam, run, calls, clock, body, status, state):
    if status is not None:
        upload_directly(iam, body, status=status)
    result = run(module, {"user_name": "alice", "certificate_body": body, "state": state, "wait": True})
    assert result["changed"] is False
    assert calls == [LIST]
    assert clock.sleeps == []


def test_check_mode_does_not_wait(iam, run, calls, clock, lag, body):
    lag.consistency_delay = NEVER
    result = run(module, {"user_name": "alice", "certificate_body": body, "wait": True}, check_mode=True)
    assert result["changed"] is True and not result.get("failed")
    assert calls == [LIST, "ListUsers", LIST]  # as without wait: the user's, then every user's certificates
    assert server_certificates(iam) == {}


# --- options -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [-1, 601, 10**9])
@pytest.mark.parametrize("wait", [True, False])
def test_wait_timeout_out_of_range_is_refused_before_any_call(iam, run, calls, body, wait, timeout):
    result = run(module, {"user_name": "alice", "certificate_body": body, "wait": wait, "wait_timeout": timeout})
    assert result["failed"] and not result.get("changed")
    assert result["msg"] == f"wait_timeout must be between 0 and 600 seconds, got {timeout}"
    assert result["error_code"] == "InvalidParameters"
    assert calls == []


def test_wait_timeout_that_is_no_number_is_refused_before_any_call(iam, run, calls, body):
    result = run(module, {"user_name": "alice", "certificate_body": body, "wait": True, "wait_timeout": "soon"})
    assert result["failed"] and result["error_code"] == "InvalidParameters"
    assert "wait_timeout" in result["msg"]
    assert calls == []


@pytest.mark.parametrize("wait", [None, False], ids=["null", "false"])
def test_wait_null_or_false_is_not_given(iam, run, calls, clock, lag, body, wait):
    lag.consistency_delay = NEVER
    result = run(module, {"user_name": "alice", "certificate_body": body, "wait": wait, "wait_timeout": 30})
    assert result["changed"] is True and not result.get("failed")
    assert calls == [LIST, UPLOAD]
    assert len(server_certificates(iam)) == 1


def test_wait_timeout_null_is_the_default_of_120_seconds(iam, run, calls, clock, lag, body):
    lag.consistency_delay = NEVER
    result = run(module, {"user_name": "alice", "certificate_body": body, "wait": True, "wait_timeout": None})
    assert result["error_code"] == "NotVisible" and "within 120 seconds" in result["msg"]
    assert calls.count(LIST) == 1 + 121
    assert sum(clock.sleeps) == 120
