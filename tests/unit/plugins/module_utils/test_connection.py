"""Connection options: amazon.aws names, environment fallbacks, bounded timeouts and retries, where each
value came from, and a message naming the option for every malformed one."""

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.certops.aws.plugins.module_utils.connection import (
    DEFAULT_REGION,
    ConnectionSettingsError,
    check_connection_options,
    client_config,
    credentials,
    iam_client,
)


def test_defaults_are_bounded():
    config = client_config(None)
    assert config.connect_timeout == 5 and config.read_timeout == 10
    assert config.retries == {"mode": "standard", "total_max_attempts": 4}


def test_aws_config_overrides_the_defaults():
    config = client_config({"read_timeout": 30, "connect_timeout": None, "retries": {"mode": "adaptive"}}, 16)
    assert config.read_timeout == 30 and config.connect_timeout == 5
    assert config.retries == {"mode": "adaptive"}
    assert config.max_pool_connections == 16


def test_retries_and_retry_mode_options():
    config = client_config(None, retries=7, retry_mode="adaptive")
    assert config.retries == {"mode": "adaptive", "total_max_attempts": 7}
    assert client_config({"retries": {"mode": "legacy", "max_attempts": None}}, retries=7).retries == {"mode": "legacy"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"retries": 0}, "retries must be between 1 and 20 (attempts in all, the first included), got 0"),
        ({"retries": 21}, "retries must be between 1 and 20"),
        ({"endpoint_url": "iam.amazonaws.com"}, "endpoint_url 'iam.amazonaws.com' is not a URL"),
        ({"endpoint_url": "ftp://127.0.0.1"}, "endpoint_url 'ftp://127.0.0.1' is not a URL"),
        ({"endpoint_url": "http://"}, "endpoint_url 'http://' is not a URL"),
        (
            {"endpoint_url": "http://127.0.0.1:5000\n"},
            "endpoint_url 'http://127.0.0.1:5000\\n' has spaces or control characters",
        ),
        ({"region": "us east 1"}, "region 'us east 1' is not a valid AWS region name"),
        ({"region": "-bad"}, "region '-bad' is not a valid AWS region name"),
        ({"aws_ca_bundle": "/no/such/bundle.pem"}, "aws_ca_bundle '/no/such/bundle.pem' is not a file"),
        (
            {"aws_config": {"connect_timeout": 0}},
            "aws_config.connect_timeout must be more than 0 and at most 3600 seconds, got 0",
        ),
        (
            {"aws_config": {"read_timeout": -1.5}},
            "aws_config.read_timeout must be more than 0 and at most 3600 seconds",
        ),
        (
            {"aws_config": {"max_pool_connections": 0}},
            "aws_config.max_pool_connections must be between 1 and 1000, got 0",
        ),
        (
            {"aws_config": {"retries": {"total_max_attempts": 0}}},
            "aws_config.retries.total_max_attempts must be between 1 and 20",
        ),
        ({"aws_config": {"retries": {"max_attempts": 25}}}, "aws_config.retries.max_attempts must be between 1"),
        ({"aws_config": {"proxies": {"https": 8080}}}, "aws_config.proxies.https must be a string, got int"),
        ({"aws_config": {"user_agent_extra": "a\nb"}}, "aws_config.user_agent_extra must be one line of text"),
        ({"aws_config": {"proxies": {"https": "http://p\r\n"}}}, "aws_config.proxies.https must be one line"),
        (
            {"aws_config": {"proxies_config": {"proxy_ca_bundle": ["x"]}}},
            "aws_config.proxies_config.proxy_ca_bundle must be a string, got list",
        ),
    ],
)
def test_malformed_options_name_the_option(params, message):
    with pytest.raises(ConnectionSettingsError) as error:
        check_connection_options(params, set(params))
    assert message in str(error.value)
    assert error.value.code == "InvalidParameters"


def test_a_malformed_value_from_the_environment_names_the_variable():
    with pytest.raises(ConnectionSettingsError, match=r"endpoint_url \(from the environment variable AWS_URL\)"):
        check_connection_options({"endpoint_url": "nonsense"}, set())


def test_a_missing_ca_bundle_does_not_matter_without_verification():
    check_connection_options({"aws_ca_bundle": "/no/such/bundle.pem", "validate_certs": False}, set())


def test_region_defaults_to_the_iam_signing_region():
    assert DEFAULT_REGION == "us-east-1"
    assert iam_client({}).meta.endpoint_url == "https://iam.amazonaws.com"
    assert iam_client({"region": "us-gov-west-1"}).meta.endpoint_url == "https://iam.us-gov.amazonaws.com"


def test_endpoint_url_option_and_botocore_environment(monkeypatch):
    monkeypatch.setattr("socket.create_connection", lambda *args, **kwargs: _Listening())  # as if both listened
    assert iam_client({"endpoint_url": "http://127.0.0.1:4567"}).meta.endpoint_url == "http://127.0.0.1:4567"
    monkeypatch.setenv("AWS_ENDPOINT_URL_IAM", "http://127.0.0.1:7654")
    assert iam_client({}).meta.endpoint_url == "http://127.0.0.1:7654"


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL_IAM", "AWS_ENDPOINT_URL"])
@pytest.mark.parametrize("value", ["not a url", "ftp://127.0.0.1:9", "http://127.0.0.1:99999"])
def test_a_malformed_botocore_endpoint_variable_is_named(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConnectionSettingsError, match=f"the environment variable {variable} '{re.escape(value)}'"):
        iam_client({})


def test_certificate_verification(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    for params, verify in [
        ({}, True),
        ({"validate_certs": False}, False),
        ({"validate_certs": True, "aws_ca_bundle": str(bundle)}, str(bundle)),
        ({"validate_certs": False, "aws_ca_bundle": str(bundle)}, False),
    ]:
        assert iam_client(params)._endpoint.http_session._verify == verify


def test_explicit_keys_are_used():
    signer = iam_client({"access_key": "AKIDEXAMPLE", "secret_key": "s", "session_token": "t"})._request_signer
    frozen = signer._credentials.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == ("AKIDEXAMPLE", "s", "t")


NO_KEYS = {"aws_access_key_id": None, "aws_secret_access_key": None, "aws_session_token": None}


def test_profile_and_keys_both_in_the_task_conflict_whatever_the_environment_says(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "p")  # the same value as the task's: still both set in the task
    with pytest.raises(ConnectionSettingsError, match="profile and secret_key were both given"):
        credentials({"profile": "p", "secret_key": "s"}, {"profile", "secret_key"})


def test_profile_in_the_task_wins_over_keys_from_the_environment():
    """A per-host profile in an inventory must work where AWS_ACCESS_KEY_ID is set for the controller."""
    params = {"profile": "audit", "access_key": "AKIDENV", "secret_key": "env-secret"}  # as the fallbacks fill them
    assert credentials(params, {"profile"}) == {**NO_KEYS, "profile_name": "audit"}


def test_keys_in_the_task_win_over_a_profile_from_the_environment():
    params = {"profile": "from-env", "access_key": "AKIDTASK", "secret_key": "task-secret"}
    chosen = credentials(params, {"access_key", "secret_key"})
    assert chosen["profile_name"] is None and chosen["aws_access_key_id"] == "AKIDTASK"


def test_keys_from_the_task_equal_to_the_environment_are_still_from_the_task():
    """The source is known, not inferred: a task that repeats the environment's keys set them."""
    params = {"profile": "from-env", "access_key": "AKIDENV", "secret_key": "env-secret"}
    assert credentials(params, {"access_key", "secret_key"})["profile_name"] is None


def test_both_from_the_environment_keys_win_as_in_the_aws_cli():
    params = {"profile": "from-env", "access_key": "AKIDENV", "secret_key": "env-secret"}
    assert credentials(params, set())["aws_access_key_id"] == "AKIDENV"
    assert credentials({"profile": "from-env"}, set()) == {**NO_KEYS, "profile_name": "from-env"}


def test_half_a_key_pair_is_refused():
    with pytest.raises(ConnectionSettingsError, match="access_key is set but secret_key is not"):
        credentials({"access_key": "AKID"}, {"access_key"})
    with pytest.raises(ConnectionSettingsError, match=r"secret_key \(from the environment variable"):
        credentials({"secret_key": "s"}, set())


def test_unknown_profile_names_the_option(monkeypatch):
    with pytest.raises(ConnectionSettingsError) as error:
        iam_client({"profile": "nosuchprofile"}, {"profile"})
    assert str(error.value) == "profile 'nosuchprofile' is not in the AWS config or credentials files"
    assert error.value.code == "ProfileNotFound"


class _Listening:
    def close(self) -> None:
        pass


def _closed_loopback_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends: nothing listens there


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_local_endpoint_where_nothing_listens_fails_at_once_saying_so(host):
    url = f"http://{host}:{_closed_loopback_port()}"
    with pytest.raises(ConnectionSettingsError) as refused:
        iam_client({"endpoint_url": url}, {"endpoint_url"})
    assert refused.value.code == "Unreachable"
    assert str(refused.value).startswith(f"nothing listens at the IAM endpoint {url} on this machine")
    assert str(refused.value).endswith("or unset endpoint_url to reach IAM")


@pytest.mark.parametrize(
    ("variable", "named"),
    [
        ("AWS_URL", "endpoint_url (from the environment variable AWS_URL)"),
        ("AWS_ENDPOINT_URL_IAM", "AWS_ENDPOINT_URL_IAM, AWS_ENDPOINT_URL or the AWS config file"),
    ],
)
def test_a_local_endpoint_nobody_serves_names_where_it_was_set(monkeypatch, variable, named):
    monkeypatch.setenv(variable, f"http://127.0.0.1:{_closed_loopback_port()}")
    params = {"endpoint_url": os.environ["AWS_URL"]} if variable == "AWS_URL" else {}  # as the fallback fills it
    with pytest.raises(ConnectionSettingsError) as refused:
        iam_client(params, set())
    assert str(refused.value).endswith(f"or unset {named} to reach IAM")


def test_a_local_endpoint_that_listens_and_a_remote_one_are_not_refused(monkeypatch):
    import socket

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        url = f"http://127.0.0.1:{listening.getsockname()[1]}"
        assert iam_client({"endpoint_url": url}, {"endpoint_url"}).meta.endpoint_url == url
    probed = []
    monkeypatch.setattr(socket, "create_connection", lambda *args, **kwargs: probed.append(args))
    iam_client({"endpoint_url": "https://iam.amazonaws.com"}, {"endpoint_url"})
    assert probed == [], "only an endpoint on this machine is probed"
