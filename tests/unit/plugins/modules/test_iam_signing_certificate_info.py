"""certops.aws.iam_signing_certificate_info against moto: one user, every user, filters, bounds, errors."""

from __future__ import annotations

import threading
import time

import botocore.client
import pytest

from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate_info as module
from tests.unit.plugins.modules.test_iam_signing_certificate import upload_directly


@pytest.fixture
def account(iam, cert):
    """alice: a certificate expiring in 5 days (Active) and one in 300 days (Inactive); bob: one in 40 days."""
    iam.create_user(UserName="bob")
    iam.create_user(UserName="carol")  # no certificates
    ids = {
        "alice-soon": upload_directly(iam, cert("alice-soon", days=5)),
        "alice-later": upload_directly(iam, cert("alice-later", days=300), status="Inactive"),
        "bob": upload_directly(iam, cert("bob", days=40), user_name="bob"),
    }
    return ids


def test_one_user(account, run, calls):
    result = run(module, {"user_name": "alice"})
    assert result["changed"] is False
    assert [c["certificate_id"] for c in result["certificates"]] == [account["alice-soon"], account["alice-later"]]
    soon = result["certificates"][0]
    assert soon["user_name"] == "alice" and soon["status"] == "Active"
    assert soon["subject"] == "O=certops,CN=alice-soon" and soon["days_to_expiry"] == 4
    assert soon["not_after"].endswith("Z") and soon["fingerprint_sha256"].count(":") == 31
    assert calls == ["ListSigningCertificates"]


def test_check_mode_is_the_same(account, run):
    assert (
        run(module, {"user_name": "alice"}, check_mode=True)["certificates"]
        == run(module, {"user_name": "alice"})["certificates"]
    )


def test_all_users_sorted_by_user_then_upload(account, run, calls):
    result = run(module, {"all_users": True})
    assert [(c["user_name"], c["certificate_id"]) for c in result["certificates"]] == [
        ("alice", account["alice-soon"]),
        ("alice", account["alice-later"]),
        ("bob", account["bob"]),
    ]
    assert calls.count("ListUsers") == 1 and calls.count("ListSigningCertificates") == 3


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"status": "Active"}, ["alice-soon", "bob"]),
        ({"status": "Inactive"}, ["alice-later"]),
        ({"status": "active"}, ["alice-soon", "bob"]),
        ({"status": "INACTIVE"}, ["alice-later"]),
        ({"expiring_within_days": 30}, ["alice-soon"]),
        ({"expiring_within_days": 60}, ["alice-soon", "bob"]),
        ({"expiring_within_days": 0}, []),
        ({"expiring_within_days": 400, "status": "Inactive"}, ["alice-later"]),
    ],
)
def test_filters(account, run, filters, expected):
    result = run(module, {"all_users": True, **filters})
    assert [c["certificate_id"] for c in result["certificates"]] == [account[name] for name in expected]


def test_filter_by_id(account, run):
    result = run(module, {"user_name": "alice", "certificate_id": account["alice-later"]})
    assert [c["certificate_id"] for c in result["certificates"]] == [account["alice-later"]]


def test_expired_certificates_are_expiring(iam, run, cert):
    expired = upload_directly(iam, cert("expired", days=-3, starts_in_days=-40))
    result = run(module, {"user_name": "alice", "expiring_within_days": 0})
    assert [c["certificate_id"] for c in result["certificates"]] == [expired]
    assert result["certificates"][0]["days_to_expiry"] < 0


def test_user_without_certificates(iam, run):
    assert run(module, {"user_name": "alice"})["certificates"] == []


def test_unknown_user_fails_clearly(iam, run):
    result = run(module, {"user_name": "nobody"})
    assert result["failed"] and result["error_code"] == "NoSuchEntity"
    assert result["msg"] == "IAM user 'nobody' does not exist"


def test_concurrency_is_bounded(iam, run, cert):
    """Never more than max_concurrency requests in flight, and the users are really queried in parallel."""
    for index in range(12):
        iam.create_user(UserName=f"user{index:02d}")
    in_flight, peak, lock = 0, 0, threading.Lock()
    original = botocore.client.BaseClient._make_api_call

    def slow_call(client, operation_name, api_params):
        nonlocal in_flight, peak
        if operation_name != "ListSigningCertificates":
            return original(client, operation_name, api_params)
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.05)
        try:
            return original(client, operation_name, api_params)
        finally:
            with lock:
                in_flight -= 1

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", slow_call)
        result = run(module, {"all_users": True, "max_concurrency": 3})
    assert result["certificates"] == []
    assert peak == 3


def test_bodies_are_left_out_when_include_body_is_false_and_nothing_else_changes(account, run, calls):
    with_bodies = run(module, {"all_users": True})["certificates"]
    calls.clear()
    without = run(module, {"all_users": True, "include_body": False})["certificates"]
    assert all(c["certificate_body"].startswith("-----BEGIN CERTIFICATE-----") for c in with_bodies)
    assert [c for c in without if "certificate_body" in c] == []
    assert without == [{k: v for k, v in c.items() if k != "certificate_body"} for c in with_bodies]
    assert calls.count("ListSigningCertificates") == 3
