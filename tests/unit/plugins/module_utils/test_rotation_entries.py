"""The playbook's rotations checked as data: every problem named, by position, before anything is read or written."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.certops.aws.plugins.module_utils.rotation_entries import entry_problems, rotation_users

FILES = {"certs/bob.pem": "BOB-PEM", "certs/carol.pem": "CAROL-PEM"}


def problems(rotations):
    return entry_problems(rotations, FILES.__contains__)


@pytest.mark.parametrize("rotations", [None, [], "", False], ids=["null", "empty", "empty-string", "false"])
def test_no_rotations_is_a_problem_that_says_how_to_give_them(rotations):
    (problem,) = problems(rotations)
    assert problem.startswith("no rotations given: give them as a list `rotations` of entries with `user`")


def test_every_problem_is_named_by_position_from_one():
    rotations = [
        {"user": "bob", "certificate_file": "certs/bob.pem"},
        None,
        {"certificate_file": "certs/carol.pem"},
        {"user": "dave"},
        {"user": "erin", "certificate_file": "certs/erin.pem"},
        {"user": "fay", "certificate_file": "certs/bob.pem", "certificate": "PEM"},
        {"user": "gus", "certificate_file": "certs/carol.pem", "cert": "PEM"},
        {"user": "BOB", "certificate": "PEM"},
    ]
    assert problems(rotations) == [
        "rotations[2] must be a mapping of user and certificate_file or certificate, got NoneType",
        "rotations[3]: user is required",
        "rotations[4] (dave): give certificate_file (a path) or certificate (the PEM text)",
        "rotations[5] (erin): certificate file not found: certs/erin.pem",
        "rotations[6] (fay): give certificate_file or certificate, not both",
        "rotations[7] (gus): unknown key 'cert' (user, certificate_file, certificate)",
        "a user appears more than once in rotations: bob",
    ]


def test_a_certificate_given_as_text_or_as_a_file_becomes_the_roles_users():
    rotations = [{"user": "bob", "certificate_file": "certs/bob.pem"}, {"user": "carol", "certificate": "GIVEN-PEM"}]
    assert problems(rotations) == []
    assert rotation_users(rotations, FILES.__getitem__) == [
        {"user_name": "bob", "new_certificate": "BOB-PEM"},
        {"user_name": "carol", "new_certificate": "GIVEN-PEM"},
    ]


anything = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=4), st.lists(st.none(), max_size=1))
entries = st.one_of(
    anything,
    st.dictionaries(
        st.sampled_from(["user", "certificate_file", "certificate", "cert"]),
        st.one_of(anything, st.sampled_from(["bob", "carol", "certs/bob.pem", "certs/nowhere.pem", "PEM"])),
        max_size=4,
    ),
)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.lists(entries, max_size=5))
def test_rotations_without_problems_always_make_one_user_each_and_never_raise(rotations):
    found = problems(rotations)
    if found:
        return
    users = rotation_users(rotations, FILES.__getitem__)
    assert len(users) == len(rotations) and all(user["user_name"] and user["new_certificate"] for user in users)
    assert len({user["user_name"].casefold() for user in users}) == len(users)
