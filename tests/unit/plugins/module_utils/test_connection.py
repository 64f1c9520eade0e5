"""Connection options: amazon.aws names, environment fallbacks, bounded timeouts and retries."""

from __future__ import annotations

import pytest

from ansible_collections.certops.aws.plugins.module_utils.connection import (
    DEFAULT_REGION,
    ConnectionSettingsError,
    client_config,
    credentials,
    iam_client,
)


def test_defaults_are_bounded():
    config = client_config(None)
    assert config.connect_timeout == 5 and config.read_timeout == 10
    assert config.retries == {"mode": "standard", "total_max_attempts": 4}


def test_aws_config_overrides_the_defaults():
    config = client_config({"read_timeout": 30, "retries": {"mode": "adaptive", "max_attempts": 9}}, 16)
    assert config.read_timeout == 30 and config.connect_timeout == 5
    assert config.retries == {"mode": "adaptive", "max_attempts": 9}
    assert config.max_pool_connections == 16


def test_retries_and_retry_mode_options():
    config = client_config(None, retries=7, retry_mode="adaptive")
    assert config.retries == {"mode": "adaptive", "total_max_attempts": 7}
    assert client_config({"retries": {"mode": "legacy"}}, retries=7).retries == {"mode": "legacy"}


@pytest.mark.parametrize("retries", [0, -1, 21])
def test_retries_out_of_range(retries):
    with pytest.raises(ConnectionSettingsError, match=f"retries must be between 1 and 20 .*got {retries}"):
        client_config(None, retries=retries)


def test_region_defaults_to_the_iam_signing_region():
    assert DEFAULT_REGION == "us-east-1"
    assert iam_client({}).meta.endpoint_url == "https://iam.amazonaws.com"
    assert iam_client({"region": "us-gov-west-1"}).meta.endpoint_url == "https://iam.us-gov.amazonaws.com"


def test_endpoint_url_option_and_botocore_environment(monkeypatch):
    assert iam_client({"endpoint_url": "http://127.0.0.1:4567"}).meta.endpoint_url == "http://127.0.0.1:4567"
    monkeypatch.setenv("AWS_ENDPOINT_URL_IAM", "http://127.0.0.1:7654")
    assert iam_client({}).meta.endpoint_url == "http://127.0.0.1:7654"


@pytest.mark.parametrize(
    ("params", "verify"),
    [
        ({}, True),
        ({"validate_certs": False}, False),
        ({"validate_certs": True, "aws_ca_bundle": "/tmp/ca.pem"}, "/tmp/ca.pem"),
        ({"validate_certs": False, "aws_ca_bundle": "/tmp/ca.pem"}, False),
    ],
)
def test_certificate_verification(params, verify):
    client = iam_client(params)
    assert client._endpoint.http_session._verify == verify


def test_explicit_keys_are_used():
    credentials = iam_client({"access_key": "AKIDEXAMPLE", "secret_key": "s", "session_token": "t"})._request_signer
    frozen = credentials._credentials.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == ("AKIDEXAMPLE", "s", "t")


def test_profile_and_keys_both_in_the_task_conflict():
    with pytest.raises(ConnectionSettingsError, match="not both"):
        iam_client({"profile": "p", "secret_key": "s"})


def test_profile_in_the_task_wins_over_keys_from_the_environment(monkeypatch):
    """A per-host profile in an inventory must work where AWS_ACCESS_KEY_ID is set for the controller."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    params = {"profile": "audit", "access_key": "AKIDENV", "secret_key": "env-secret"}  # as the fallbacks fill them
    assert credentials(params) == {
        "aws_access_key_id": None,
        "aws_secret_access_key": None,
        "aws_session_token": None,
        "profile_name": "audit",
    }


def test_keys_in_the_task_win_over_a_profile_from_the_environment(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "from-env")
    params = {"profile": "from-env", "access_key": "AKIDTASK", "secret_key": "task-secret"}
    assert credentials(params)["profile_name"] is None
    assert credentials(params)["aws_access_key_id"] == "AKIDTASK"
