"""Property: whatever fails, and wherever, a fleet rotation's results report what IAM holds afterwards.

Generated (Hypothesis, derandomised): one to four users, each with up to 2 certificates (active or inactive; due,
far from expiry, or expired), a new certificate each, and at most one fault at any request of the run: IAM
refusing (AccessDenied), failing (ServiceFailure) or throttling it past botocore's retries, its connection dropped
every time, or the endpoint lost from that request on. Checked on moto's state read back with plain boto3:
- every entry, the task's `changed` and the diff say what was written (tests/unit/fleet_truth.py);
- no user that had an active certificate is left without one;
- a rerun without the fault converges: a second run finishes what is left and a third changes nothing.
CERTOPS_HYPOTHESIS_EXAMPLES raises the number of cases.
"""

from __future__ import annotations

import os
from unittest import mock

import boto3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from ansible_collections.certops.aws.plugins.module_utils import executor
from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate_rotation as module
from tests.fleet_truth import assert_results_are_what_iam_holds, holdings
from tests.unit.conftest import FakeClock
from tools.certs import make_certificate
from tools.iam_emulator import InProcessFront
from tools.iam_faults import DROPPED, FaultInjector

VALIDITY = {"due": {"days": 5}, "valid": {"days": 200}, "expired": {"days": -1, "starts_in_days": -30}}
FAULTS = [
    ("AccessDenied", 403),
    ("ServiceFailure", 500),
    ("Throttling", 400),
    (DROPPED, 0),
    ("lost", 0),
]
# Certificates are slow to make: one set, shared by every case (each case puts them on users of its own).
BODIES = {
    (user, n, validity): make_certificate(f"u{user}-{n}-{validity}", **VALIDITY[validity])
    for user in range(4)
    for n in range(2)
    for validity in VALIDITY
}
NEW = {user: make_certificate(f"u{user}-new") for user in range(4)}

certificate = st.tuples(st.sampled_from(["Active", "Inactive"]), st.sampled_from(sorted(VALIDITY)))
fleets = st.lists(st.lists(certificate, max_size=2), min_size=1, max_size=4)
fault = st.one_of(st.none(), st.tuples(st.sampled_from(FAULTS), st.integers(min_value=1, max_value=16)))


def _set_up(iam, fleet) -> list[dict]:
    users = []
    for number, held in enumerate(fleet):
        name = f"u{number}"
        iam.create_user(UserName=name)
        for index, (status, validity) in enumerate(held):
            body = BODIES[number, index, validity]
            certificate_id = iam.upload_signing_certificate(UserName=name, CertificateBody=body)["Certificate"][
                "CertificateId"
            ]
            if status != "Active":
                iam.update_signing_certificate(UserName=name, CertificateId=certificate_id, Status=status)
        users.append({"user_name": name, "new_certificate": NEW[number]})
    return users


def _has_active(state: dict[str, str]) -> bool:
    return "Active" in state.values()


@settings(
    max_examples=int(os.environ.get("CERTOPS_HYPOTHESIS_EXAMPLES", "400")) // 10,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(fleet=fleets, injected=fault)
def test_results_report_what_iam_holds_whatever_fails(run, fleet, injected):
    with mock_aws(), mock.patch("botocore.endpoint.time"), mock.patch.object(executor, "time", FakeClock()):
        iam = boto3.client("iam", region_name="us-east-1")
        iam.certops_observer = True
        users = _set_up(iam, fleet)
        names = [user["user_name"] for user in users]
        before = holdings(iam, names)
        args = {"users": users, "verify_delay": 0, "max_concurrency": 1}

        injector = FaultInjector()
        if injected is not None:
            (code, status), number = injected
            if code == "lost":
                injector.lose_endpoint(after=number - 1)
            else:
                injector.at_send(number, code, status)
        with InProcessFront(fault=injector).install():
            result = run(module, args, diff=True)
        assert_results_are_what_iam_holds(result, before, iam)
        after = holdings(iam, names)
        for name in names:
            assert _has_active(after[name]) or not _has_active(before[name]), (name, before[name], after[name])

        again = run(module, args, diff=True)
        assert_results_are_what_iam_holds(again, after, iam)
        settled = holdings(iam, names)
        third = run(module, args)
        assert not third["changed"], third["results"]
        assert holdings(iam, names) == settled
        for entry in third["results"]:
            # Converged: rotated, or refused for a reason of its own state (two active, or the quota full).
            assert not entry["failed"] or entry["error_code"] in ("LimitExceeded", "RotationBlocked"), entry
