# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS connection options (amazon.aws names and environment fallbacks) and the IAM client."""

from __future__ import annotations

import os
from typing import Any

from ansible.module_utils.basic import env_fallback

try:
    import boto3
    import botocore.config
    import botocore.exceptions

    HAS_BOTO3 = True
except ImportError:
    HAS_BOTO3 = False

# IAM is a global service; its endpoint is signed for us-east-1 in the aws partition.
DEFAULT_REGION = "us-east-1"

# Bounded so that a hung or unreachable endpoint fails within a minute, retries included.
DEFAULT_CONNECT_TIMEOUT = 5
DEFAULT_READ_TIMEOUT = 10
DEFAULT_RETRY_MODE = "standard"
DEFAULT_TOTAL_MAX_ATTEMPTS = 4

CONNECTION_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "access_key": {
        "type": "str",
        "aliases": ["aws_access_key_id", "aws_access_key", "ec2_access_key"],
        "fallback": (env_fallback, ["AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "EC2_ACCESS_KEY"]),
        "no_log": False,
    },
    "secret_key": {
        "type": "str",
        "aliases": ["aws_secret_access_key", "aws_secret_key", "ec2_secret_key"],
        "fallback": (env_fallback, ["AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "EC2_SECRET_KEY"]),
        "no_log": True,
    },
    "session_token": {
        "type": "str",
        "aliases": ["aws_session_token", "security_token", "aws_security_token"],
        "fallback": (env_fallback, ["AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"]),
        "no_log": True,
    },
    "profile": {
        "type": "str",
        "aliases": ["aws_profile"],
        "fallback": (env_fallback, ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"]),
    },
    "region": {
        "type": "str",
        "aliases": ["aws_region"],
        "fallback": (env_fallback, ["AWS_REGION", "AWS_DEFAULT_REGION"]),
    },
    "endpoint_url": {
        "type": "str",
        "aliases": ["aws_endpoint_url"],
        "fallback": (env_fallback, ["AWS_URL"]),
    },
    "validate_certs": {"type": "bool", "default": True},
    "aws_ca_bundle": {"type": "path", "fallback": (env_fallback, ["AWS_CA_BUNDLE"])},
    "aws_config": {"type": "dict"},
    "retries": {"type": "int"},
    "retry_mode": {"type": "str", "choices": ["standard", "adaptive", "legacy"]},
}


class ConnectionSettingsError(ValueError):
    """Connection options that cannot work together."""


MAX_RETRIES = 20


def client_config(
    aws_config: dict[str, Any] | None,
    max_pool_connections: int | None = None,
    retries: int | None = None,
    retry_mode: str | None = None,
) -> Any:
    """botocore Config: our bounded defaults, the retries/retry_mode options, then aws_config over all."""
    if retries is not None and not 1 <= retries <= MAX_RETRIES:
        raise ConnectionSettingsError(
            f"retries must be between 1 and {MAX_RETRIES} (attempts in all, the first included), got {retries}"
        )
    settings: dict[str, Any] = {
        "connect_timeout": DEFAULT_CONNECT_TIMEOUT,
        "read_timeout": DEFAULT_READ_TIMEOUT,
        "retries": {
            "mode": retry_mode or DEFAULT_RETRY_MODE,
            "total_max_attempts": retries or DEFAULT_TOTAL_MAX_ATTEMPTS,
        },
    }
    if max_pool_connections:
        settings["max_pool_connections"] = max_pool_connections
    settings.update(aws_config or {})
    try:
        return botocore.config.Config(**settings)
    except TypeError as exc:
        raise ConnectionSettingsError(f"aws_config has an option botocore does not know: {exc}") from None


def _from_environment(params: dict[str, Any], option: str) -> bool:
    """Whether an option's value is the one its environment fallback supplies (not set in the task)."""
    value = params.get(option)
    names = CONNECTION_ARGUMENT_SPEC[option]["fallback"][1]
    return value is not None and any(os.environ.get(name) == value for name in names)


def credentials(params: dict[str, Any]) -> dict[str, Any]:
    """The session arguments: a profile or keys. A profile set in the task wins over keys from the
    environment, and keys win over a profile from the environment; both set in the task is an error."""
    key_options = ("access_key", "secret_key", "session_token")
    keys = {option: params.get(option) for option in key_options if params.get(option) is not None}
    profile = params.get("profile")
    if profile and keys:
        profile_in_task = not _from_environment(params, "profile")
        keys_in_task = any(not _from_environment(params, option) for option in keys)
        if profile_in_task and keys_in_task:
            raise ConnectionSettingsError(
                "profile and access_key/secret_key were both given; pass a profile or access keys, not both"
            )
        if profile_in_task:
            keys = {}
        else:
            profile = None
    return {
        "aws_access_key_id": keys.get("access_key"),
        "aws_secret_access_key": keys.get("secret_key"),
        "aws_session_token": keys.get("session_token"),
        "profile_name": profile,
    }


def iam_client(params: dict[str, Any], max_pool_connections: int | None = None) -> Any:
    """A boto3 IAM client built from the connection options of a module."""
    session = boto3.session.Session(**credentials(params))
    verify: bool | str = params.get("validate_certs", True)
    if verify and params.get("aws_ca_bundle"):
        verify = params["aws_ca_bundle"]
    return session.client(
        "iam",
        region_name=params.get("region") or DEFAULT_REGION,
        # None lets botocore apply AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_IAM and the config file.
        endpoint_url=params.get("endpoint_url") or None,
        verify=verify,
        config=client_config(
            params.get("aws_config"), max_pool_connections, params.get("retries"), params.get("retry_mode")
        ),
    )
