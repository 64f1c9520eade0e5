"""The wait of iam_signing_certificate: the decision whether a listing shows a request carried out (pure, in the
planner), what a failure says was written, and the loop that lists until then (executor), on a clock that does
not sleep."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.certops.aws.plugins.module_utils.certificate import load_certificate
from ansible_collections.certops.aws.plugins.module_utils.executor import listed_as_requested
from ansible_collections.certops.aws.plugins.module_utils.iam import IamError
from ansible_collections.certops.aws.plugins.module_utils.planner import (
    Action,
    Plan,
    Request,
    shows_as_requested,
    writes_done,
)
from ansible_collections.certops.aws.plugins.module_utils.rules import record
from tests.unit.conftest import FakeClock
from tools.certs import make_certificate

NOW = datetime.datetime.now(datetime.timezone.utc)
BODY = make_certificate("listed")
OTHER = make_certificate("other")
CERTIFICATE = load_certificate(BODY)
ID, OTHER_ID = "A" * 24, "B" * 24


def raw(certificate_id=ID, body=BODY, status="Active"):
    return {"UserName": "alice", "CertificateId": certificate_id, "CertificateBody": body, "Status": status}


def listing(*raws):
    return [record(entry, NOW) for entry in raws]


def by_body(state):
    return Request("alice", state, CERTIFICATE)


def by_id(state, certificate_id=ID):
    return Request("alice", state, None, certificate_id)


# --- the decision ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "request_", "shown"),
    [
        (listing(raw()), by_body("present"), True),
        (listing(raw(status="Inactive")), by_body("present"), True),
        (listing(raw(body=BODY.replace("\n", "\r\n"))), by_body("present"), True),  # fingerprint, not text
        (listing(raw(OTHER_ID, OTHER)), by_body("present"), False),
        (listing(), by_body("present"), False),
        (None, by_body("present"), False),  # no such user: nothing listed
        (listing(raw()), by_body("active"), True),
        (listing(raw(status="Inactive")), by_body("active"), False),
        (listing(raw(status="Expired")), by_body("active"), False),
        (listing(raw(status="Inactive")), by_body("inactive"), True),
        (listing(raw()), by_body("inactive"), False),
        (listing(raw()), by_body("absent"), False),
        (listing(raw(OTHER_ID, OTHER)), by_body("absent"), True),
        (None, by_body("absent"), True),
        (listing(raw(status="Inactive")), by_id("inactive"), True),
        (listing(raw(OTHER_ID, OTHER)), by_id("present"), False),
        (listing(raw(OTHER_ID, OTHER)), by_id("absent"), True),
        # The body and the ID name different certificates: not what was written.
        (listing(raw(OTHER_ID, BODY)), Request("alice", "present", CERTIFICATE, ID), False),
        (listing(raw(ID, BODY)), Request("alice", "present", CERTIFICATE, ID), True),
    ],
)
def test_shows_as_requested(records, request_, shown):
    assert shows_as_requested(records, request_) is shown


@pytest.mark.parametrize(
    ("actions", "said"),
    [
        ((Action("upload"),), f"Signing certificate {ID} of IAM user 'alice' was uploaded"),
        (
            (Action("upload"), Action("set_status", None, "Inactive")),
            f"Signing certificate {ID} of IAM user 'alice' was uploaded and set to Inactive",
        ),
        ((Action("set_status", ID, "Active"),), f"Signing certificate {ID} of IAM user 'alice' was set to Active"),
        ((Action("delete", OTHER_ID),), f"Signing certificate {OTHER_ID} of IAM user 'alice' was deleted"),
    ],
)
def test_writes_done_names_the_certificate_and_each_write(actions, said):
    target = None if actions[0].kind == "delete" else {"certificate_id": ID}
    assert writes_done(Plan([], target=target, actions=actions), "alice") == said


def test_writes_done_for_the_calling_user():
    plan = Plan([], target={"certificate_id": ID}, actions=(Action("upload"),))
    assert writes_done(plan, None) == f"Signing certificate {ID} of the calling IAM user was uploaded"


# --- the loop ------------------------------------------------------------------------------------------------------


class ScriptedListings:
    """SigningCertificates.list answering from a script (the last answer repeats); each listing takes `takes`
    seconds of the fake clock. An IamError in the script is raised."""

    def __init__(self, clock: FakeClock, answers: list, takes: float = 0.0) -> None:
        self.clock, self.answers, self.takes = clock, answers, takes
        self.listings = 0

    def list(self, user_name):
        answer = self.answers[min(self.listings, len(self.answers) - 1)]
        self.listings += 1
        self.clock.now += self.takes
        if isinstance(answer, IamError):
            raise answer
        return answer


def test_the_first_listing_that_shows_it_is_returned():
    clock = FakeClock()
    api = ScriptedListings(clock, [[], [], [raw()]])
    listed = listed_as_requested(api, by_body("present"), 10, NOW, clock)
    assert [r["certificate_id"] for r in listed] == [ID]
    assert api.listings == 3 and clock.sleeps == [1.0, 1.0]


@pytest.mark.parametrize(
    ("timeout", "takes", "sleeps"),
    [
        (0, 0.0, []),
        (3, 0.0, [1.0, 1.0, 1.0]),
        (2.5, 0.0, [1.0, 1.0, 0.5]),
        # Listings that take time: the pauses shrink so that no pause ends past the deadline.
        (3, 0.4, [1.0, 1.0]),
        (2, 0.3, [1.0, pytest.approx(0.4)]),
    ],
)
def test_never_shown_gives_up_at_the_deadline_without_sleeping_past_it(timeout, takes, sleeps):
    clock = FakeClock()
    start = clock.now
    api = ScriptedListings(clock, [[]], takes)
    assert listed_as_requested(api, by_body("present"), timeout, NOW, clock) is None
    assert clock.sleeps == sleeps
    assert api.listings == len(sleeps) + 1
    # The last listing starts at the deadline at the latest.
    assert clock.now - takes <= start + timeout + 1e-9


def test_a_user_that_no_longer_exists_lists_nothing():
    clock = FakeClock()
    api = ScriptedListings(clock, [IamError("gone", "NoSuchEntity")])
    assert listed_as_requested(api, by_body("absent"), 5, NOW, clock) == []
    assert listed_as_requested(api, by_body("present"), 1, NOW, clock) is None


def test_a_failed_listing_is_raised():
    clock = FakeClock()
    api = ScriptedListings(clock, [[], IamError("denied", "AccessDenied")])
    with pytest.raises(IamError) as raised:
        listed_as_requested(api, by_body("present"), 5, NOW, clock)
    assert raised.value.code == "AccessDenied" and api.listings == 2
