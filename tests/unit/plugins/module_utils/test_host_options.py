"""The options of the role host_signing_certificate: defaults for what is not given, and every problem named with
the role's variable, before anything is read."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.certops.aws.plugins.module_utils.host_options import DEFAULTS, check_options

NOW = datetime.datetime(2026, 12, 4, tzinfo=datetime.timezone.utc)


def check(**given):
    return check_options({"user_name": "alice", "host_name": "h1", **given}, NOW)


@pytest.mark.parametrize("empty", [None, False, ""])
def test_null_false_and_empty_options_take_their_defaults(empty):
    options, problems = check(**{name: empty for name in DEFAULTS if name not in ("user_name", "host_name")})
    assert problems == []
    assert options["dir"] == "/etc/certops/signing" and options["threshold_days"] == 30 and options["force"] is False
    assert options["subject"] == {"commonName": "alice"} and options["lock_timeout"] == 1800


def test_numbers_and_booleans_given_as_text_are_converted():
    options, problems = check(threshold_days="7", validity_days="90", force="yes", key_size="4096", owner=1000)
    assert problems == []
    assert (options["threshold_days"], options["validity_days"], options["force"], options["key_size"]) == (
        7,
        90,
        True,
        4096,
    )
    assert options["owner"] == "1000"


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({"user_name": None}, "host_signing_certificate_user_name is required"),
        ({"user_name": "bob smith"}, "host_signing_certificate_user_name is required"),
        ({"dir": "relative/dir"}, "host_signing_certificate_dir must be a normalised absolute path"),
        ({"dir": "/etc/../root"}, "host_signing_certificate_dir must be a normalised absolute path"),
        ({"threshold_days": -1}, "host_signing_certificate_threshold_days must be a whole number of days, 0 or more"),
        ({"threshold_days": True}, "host_signing_certificate_threshold_days must be a whole number of days"),
        ({"validity_days": 10**7}, "host_signing_certificate_validity_days must be at most"),
        ({"force": "maybe"}, "host_signing_certificate_force must be true or false"),
        (
            {"old_certificate_action": "shred"},
            "host_signing_certificate_old_certificate_action must be deactivate or delete",
        ),
        ({"key_size": 1024}, "host_signing_certificate_key_size must be a number of bits, 2048 or more"),
        ({"key_type": "ECC", "key_curve": "x25519"}, "host_signing_certificate_key_curve must be"),
        ({"subject": {"favouriteColour": "blue"}}, 'unknown name attribute "favouriteColour"'),
        ({"subject": {"CN": "x" * 65}}, "CN is 65 bytes long and X.509 allows at most 64"),
        ({"subject": {"countryName": "USA"}}, "countryName must be a two-letter country code"),
        ({"check_command": "say 'unbalanced"}, "host_signing_certificate_check_command cannot be split"),
        ({"validity_days": 30}, "validity_days (30) must be greater than host_signing_certificate_threshold_days (30)"),
        ({"lock_timeout": 0}, "host_signing_certificate_lock_timeout must be a whole number of seconds, 1 to"),
        ({"host_name": None}, "host_signing_certificate_host_name is required"),
    ],
)
def test_every_problem_is_named_with_the_roles_variable(given, problem):
    _options, problems = check(**given)
    assert any(problem in found for found in problems), problems
