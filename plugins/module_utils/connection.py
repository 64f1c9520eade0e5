# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS connection options (amazon.aws names and environment fallbacks) and the IAM client.

Every malformed option fails here with a message that names it, before any call; the code knows which
values the task set (`given`) and which came from the environment, rather than guessing from equal values.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import urllib.parse
from typing import Any

from ansible.module_utils.basic import env_fallback

try:
    import boto3
    import botocore.config
    import botocore.exceptions
    import botocore.session

    HAS_BOTO3 = True
except ImportError:
    HAS_BOTO3 = False

# error_code of a task whose IAM endpoint could not be reached.
UNREACHABLE = "Unreachable"

# IAM is a global service; its endpoint is signed for us-east-1 in the aws partition.
DEFAULT_REGION = "us-east-1"

# Bounded so that a hung or unreachable endpoint fails within a minute, retries included.
DEFAULT_CONNECT_TIMEOUT = 5
DEFAULT_READ_TIMEOUT = 10
DEFAULT_RETRY_MODE = "standard"
DEFAULT_TOTAL_MAX_ATTEMPTS = 4
MAX_RETRIES = 20
RETRY_MODES = ["standard", "adaptive", "legacy"]
# botocore's own rule for a region name (a host label).
REGION_PATTERN = re.compile(r"(?![0-9]+$)(?!-)[a-zA-Z0-9-]{1,63}(?<!-)", re.ASCII)

KEY_OPTIONS = ("access_key", "secret_key", "session_token")
# Bounds of aws_config: beyond them a setting is a mistake (urllib3 fills its pool queue up front, a timeout of
# hours would hang a play, an infinite one cannot even be scheduled).
MAX_TIMEOUT = 3600
MAX_POOL_CONNECTIONS = 1000
PROXIES_CONFIG = {"proxy_ca_bundle": str, "proxy_client_cert": str, "proxy_use_forwarding_for_https": bool}

# The botocore Config settings aws_config accepts, each validated by Ansible's argument spec.
AWS_CONFIG_OPTIONS: dict[str, dict[str, Any]] = {
    "connect_timeout": {"type": "float"},
    "read_timeout": {"type": "float"},
    "max_pool_connections": {"type": "int"},
    "retries": {
        "type": "dict",
        "options": {
            "mode": {"type": "str", "choices": RETRY_MODES},
            "total_max_attempts": {"type": "int"},
            "max_attempts": {"type": "int"},
        },
    },
    "proxies": {"type": "dict"},
    "proxies_config": {"type": "dict"},
    "user_agent_extra": {"type": "str"},
    "user_agent_appid": {"type": "str"},
    "tcp_keepalive": {"type": "bool"},
    "parameter_validation": {"type": "bool"},
    "use_fips_endpoint": {"type": "bool"},
    "use_dualstack_endpoint": {"type": "bool"},
    "client_cert": {"type": "path"},
}

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
    "aws_config": {"type": "dict", "options": AWS_CONFIG_OPTIONS},
    "retries": {"type": "int"},
    "retry_mode": {"type": "str", "choices": RETRY_MODES},
}


class ConnectionSettingsError(ValueError):
    """Connection options that cannot work; the message names the option."""

    def __init__(self, message: str, code: str = "InvalidParameters") -> None:
        super().__init__(message)
        self.code = code


def _origin(option: str, given: set[str]) -> str:
    """How to name an option in a message: where its value came from."""
    if option in given:
        return option
    names = " or ".join(CONNECTION_ARGUMENT_SPEC[option]["fallback"][1])
    return f"{option} (from the environment variable {names})"


def _set(settings: dict[str, Any] | None) -> dict[str, Any]:
    """The settings a user gave (the argument spec fills every other suboption with None)."""
    return {key: value for key, value in (settings or {}).items() if value is not None}


def _check_attempts(option: str, attempts: int | None, lowest: int = 1) -> None:
    if attempts is not None and not lowest <= attempts <= MAX_RETRIES:
        raise ConnectionSettingsError(
            f"{option} must be between {lowest} and {MAX_RETRIES} (attempts in all, the first included), got {attempts}"
        )


def _control_characters(settings: dict[str, Any], prefix: str = "aws_config") -> str | None:
    """The first setting whose text holds a control character (a newline would end up in an HTTP header)."""
    for key, value in settings.items():
        name = f"{prefix}.{key}"
        if isinstance(value, dict):
            found = _control_characters(value, name)
            if found:
                return found
        elif isinstance(value, str) and any(ord(character) < 0x20 or ord(character) == 0x7F for character in value):
            return name
    return None


def _url_problem(url: str) -> str | None:
    """Why a text is not an http(s) URL with a host (and a valid port, if any); None when it is one."""
    if any(ord(character) <= 0x20 or ord(character) == 0x7F for character in url):
        return "has spaces or control characters"
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        return "is not a URL (its host or port cannot be read)"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not a URL: give http:// or https:// and a host"
    return None


def _check_aws_config(aws_config: dict[str, Any]) -> None:
    broken = _control_characters(aws_config)
    if broken:
        raise ConnectionSettingsError(f"{broken} must be one line of text, without control characters")
    for option in ("connect_timeout", "read_timeout"):
        seconds = aws_config.get(option)
        if seconds is not None and not 0 < seconds <= MAX_TIMEOUT:
            raise ConnectionSettingsError(
                f"aws_config.{option} must be more than 0 and at most {MAX_TIMEOUT} seconds, got {seconds}"
            )
    pool = aws_config.get("max_pool_connections")
    if pool is not None and not 1 <= pool <= MAX_POOL_CONNECTIONS:
        raise ConnectionSettingsError(
            f"aws_config.max_pool_connections must be between 1 and {MAX_POOL_CONNECTIONS}, got {pool}"
        )
    retries = _set(aws_config.get("retries"))
    _check_attempts("aws_config.retries.total_max_attempts", retries.get("total_max_attempts"))
    if retries.get("max_attempts") is not None:  # botocore's legacy form counts retries, not attempts
        _check_attempts("aws_config.retries.max_attempts", retries["max_attempts"] + 1)
    for scheme, url in (aws_config.get("proxies") or {}).items():
        if not isinstance(url, str):
            raise ConnectionSettingsError(f"aws_config.proxies.{scheme} must be a string, got {type(url).__name__}")
        problem = _url_problem(url)
        if problem:
            raise ConnectionSettingsError(f"aws_config.proxies.{scheme} {url!r} {problem}")
    for key, value in (aws_config.get("proxies_config") or {}).items():
        if key not in PROXIES_CONFIG:
            raise ConnectionSettingsError(
                f"aws_config.proxies_config.{key} is not a proxy setting botocore knows: {', '.join(PROXIES_CONFIG)}"
            )
        if not isinstance(value, PROXIES_CONFIG[key]):
            kind = "a boolean" if PROXIES_CONFIG[key] is bool else "a string"
            raise ConnectionSettingsError(f"aws_config.proxies_config.{key} must be {kind}, got {type(value).__name__}")
    for option in ("client_cert",):
        if aws_config.get(option) and not os.path.isfile(aws_config[option]):
            raise ConnectionSettingsError(f"aws_config.{option} {aws_config[option]!r} is not a file")


def check_connection_options(params: dict[str, Any], given: set[str]) -> None:
    """Fail with a message naming the option for any connection option that cannot work."""
    endpoint = params.get("endpoint_url")
    if endpoint:
        problem = _url_problem(endpoint)
        if problem:
            raise ConnectionSettingsError(
                f"{_origin('endpoint_url', given)} {endpoint!r} {problem}, for example https://iam.amazonaws.com"
            )
    else:
        # botocore reads these by itself; checked here so that a bad one is named rather than met at the first call
        for variable in ("AWS_ENDPOINT_URL_IAM", "AWS_ENDPOINT_URL"):
            value = os.environ.get(variable)
            problem = _url_problem(value) if value else None
            if problem:
                raise ConnectionSettingsError(f"the environment variable {variable} {value!r} {problem}")
    region = params.get("region")
    if region and not REGION_PATTERN.fullmatch(region):
        raise ConnectionSettingsError(f"{_origin('region', given)} {region!r} is not a valid AWS region name")
    bundle = params.get("aws_ca_bundle")
    if bundle and params.get("validate_certs", True) and not os.path.isfile(bundle):
        raise ConnectionSettingsError(f"{_origin('aws_ca_bundle', given)} {bundle!r} is not a file")
    _check_attempts("retries", params.get("retries"))
    _check_aws_config(_set(params.get("aws_config")))


def client_config(
    aws_config: dict[str, Any] | None,
    max_pool_connections: int | None = None,
    retries: int | None = None,
    retry_mode: str | None = None,
) -> Any:
    """botocore Config: our bounded defaults, the retries/retry_mode options, then aws_config over all."""
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
    overrides = _set(aws_config)
    if "retries" in overrides:
        overrides["retries"] = _set(overrides["retries"])
    settings.update(overrides)
    return botocore.config.Config(**settings)


def credentials(params: dict[str, Any], given: set[str]) -> dict[str, Any]:
    """The session arguments: a profile or keys.

    A profile set in the task wins over keys from the environment, and keys set in the task win over a
    profile from the environment; a profile and keys both set in the task is an error, whatever the
    environment says. When both come from the environment, the keys win, as in the AWS CLI.
    """
    keys_in_task = sorted(given.intersection(KEY_OPTIONS))
    if "profile" in given and keys_in_task:
        raise ConnectionSettingsError(
            f"profile and {'/'.join(keys_in_task)} were both given; pass a profile or access keys, not both"
        )
    keys = {option: params.get(option) for option in KEY_OPTIONS}
    profile = params.get("profile")
    if "profile" in given or (profile and not keys["access_key"] and not keys["secret_key"]):
        keys = dict.fromkeys(KEY_OPTIONS)
    else:
        profile = None
        if bool(keys["access_key"]) != bool(keys["secret_key"]):
            present, missing = ("access_key", "secret_key") if keys["access_key"] else ("secret_key", "access_key")
            raise ConnectionSettingsError(
                f"{_origin(present, given)} is set but {missing} is not; give both, or a profile"
            )
    return {
        "aws_access_key_id": keys["access_key"],
        "aws_secret_access_key": keys["secret_key"],
        "aws_session_token": keys["session_token"],
        "profile_name": profile,
    }


def iam_client(params: dict[str, Any], given: set[str] | None = None, max_pool_connections: int | None = None) -> Any:
    """A boto3 IAM client built from the connection options of a module. given: the options the task set."""
    given = set(params) if given is None else given
    check_connection_options(params, given)
    session_arguments = credentials(params, given)
    verify: bool | str = params.get("validate_certs", True)
    if verify and params.get("aws_ca_bundle"):
        verify = params["aws_ca_bundle"]
    try:
        client = _client(params, session_arguments, verify, max_pool_connections)
    except botocore.exceptions.ProfileNotFound:
        raise ConnectionSettingsError(
            f"{_origin('profile', given)} {session_arguments['profile_name']!r} is not in the AWS config or "
            "credentials files",
            "ProfileNotFound",
        ) from None
    except botocore.exceptions.BotoCoreError as exc:  # e.g. a malformed shared config file
        raise ConnectionSettingsError(
            f"Could not set up the AWS connection from the AWS config files or environment: {exc}",
            exc.__class__.__name__,
        ) from None
    except ValueError:  # botocore's "Invalid endpoint", from AWS_ENDPOINT_URL(_IAM) or the config file
        raise ConnectionSettingsError(
            "The IAM endpoint set by AWS_ENDPOINT_URL_IAM, AWS_ENDPOINT_URL or the AWS config file is not a URL"
        ) from None
    set_by = (
        _origin("endpoint_url", given)
        if params.get("endpoint_url")
        else "AWS_ENDPOINT_URL_IAM, AWS_ENDPOINT_URL or the AWS config file"
    )
    # Never longer than the connect timeout the task allows.
    probe_seconds = min(LOCAL_PROBE_SECONDS, client.meta.config.connect_timeout or LOCAL_PROBE_SECONDS)
    _refuse_a_local_endpoint_nobody_serves(client.meta.endpoint_url, set_by, probe_seconds)
    return client


LOCAL_PROBE_SECONDS = 2.0


def _refuse_a_local_endpoint_nobody_serves(endpoint_url: str, set_by: str, timeout: float) -> None:
    """An endpoint on this machine (a loopback address: an emulator, a proxy) that refuses a connection has nothing
    listening, and retrying cannot change that: say so at once instead of after botocore's retries (seconds)."""
    parsed = urllib.parse.urlsplit(endpoint_url)
    host = parsed.hostname or ""
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if not local:
        return
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except ConnectionRefusedError:
        raise ConnectionSettingsError(
            f"nothing listens at the IAM endpoint {endpoint_url} on this machine (connection refused): start the "
            f"emulator or proxy it names again (make emulator), or unset {set_by} to reach IAM",
            UNREACHABLE,
        ) from None
    except OSError:
        return  # anything else is for botocore to meet and report, with its retries


def _client(
    params: dict[str, Any], session_arguments: dict[str, Any], verify: bool | str, max_pool_connections: int | None
) -> Any:
    """The boto3 IAM client; iam_client translates botocore's exceptions."""
    # The profile was decided before (from the task, or AWS_PROFILE through the option's fallback): botocore must not
    # read AWS_PROFILE again by itself when access keys won over it.
    botocore_session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    session = boto3.session.Session(botocore_session=botocore_session, **session_arguments)
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
