# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the role host_signing_certificate: their defaults, and the rules they must follow.

Pure: no I/O, no Ansible, no clock of its own. The role hands its options over as given (an option set to null,
false or an empty string counts as not given, design rule 8), before anything is read or written; every problem is
named with the role's variable name.
"""

from __future__ import annotations

import datetime
import re
import shlex
from typing import Any

from ansible_collections.certops.aws.plugins.module_utils.rules import not_given

PREFIX = "host_signing_certificate_"

# The value of each option that is not given: the single source of the defaults the argument spec documents.
DEFAULTS: dict[str, Any] = {
    "user_name": None,
    "dir": "/etc/certops/signing",
    "threshold_days": 30,
    "force": False,
    "old_certificate_action": "deactivate",
    "key_type": "RSA",
    "key_size": 2048,
    "key_curve": "secp384r1",
    "subject": None,
    "validity_days": 365,
    "owner": None,
    "group": None,
    "check_command": None,
    "check_tasks": None,
    "verify_retries": 10,
    "verify_delay": 3,
    "iam_host": "localhost",
    "account": None,
    "host_name": None,
    "lock_timeout": 1800,
}

OLD_CERTIFICATE_ACTIONS = ("deactivate", "delete")
KEY_TYPES = ("RSA", "ECC")
KEY_CURVES = ("secp256r1", "secp384r1", "secp521r1")
# The subject attributes community.crypto accepts, by the names the role documents.
SUBJECT_NAMES = (
    "CN",
    "commonName",
    "O",
    "organizationName",
    "OU",
    "organizationalUnitName",
    "C",
    "countryName",
    "ST",
    "stateOrProvinceName",
    "L",
    "localityName",
    "street",
    "streetAddress",
    "postalCode",
    "emailAddress",
    "serialNumber",
    "GN",
    "givenName",
    "SN",
    "surname",
    "initials",
    "generationQualifier",
    "title",
    "pseudonym",
    "name",
    "businessCategory",
    "dnQualifier",
    "DC",
    "domainComponent",
    "UID",
    "userId",
)
USER_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]{1,128}")
PRINTABLE = re.compile(r"[A-Za-z0-9 '()+,./:=?-]+")
TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")
# 9999-12-31T23:59:59Z: the last moment an X.509 certificate (and Python's datetime) can carry.
LAST_MOMENT = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc)
MAX_LOCK_TIMEOUT = 7 * 24 * 3600


def _whole(value: Any) -> int | None:
    """A whole number given as a number or as its digits; None for anything else (booleans included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value.strip()):
        return int(value)
    return None


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    return None


def _name(option: str) -> str:
    return PREFIX + option


def _number(options: dict[str, Any], option: str, least: int, unit: str, problems: list[str]) -> None:
    value = _whole(options[option])
    if value is None or value < least:
        problems.append(f"{_name(option)} must be a whole number{unit}, {least} or more")
    else:
        options[option] = value


def _subject_problems(subject: Any) -> list[str]:
    if not (
        isinstance(subject, dict)
        and subject
        and all(isinstance(key, str) for key in subject)
        and all(isinstance(value, str) and value for value in subject.values())
    ):
        return [
            f"{_name('subject')} must map name attributes to non-empty strings, for example "
            "{commonName: alice, organizationName: Example}"
        ]
    problems = []
    for name, value in subject.items():
        if name not in SUBJECT_NAMES:
            known = ", ".join(SUBJECT_NAMES)
            problems.append(f'{_name("subject")}: unknown name attribute "{name}"; use one of {known}')
        elif name in ("CN", "commonName") and len(value.encode()) > 64:
            problems.append(
                f"{_name('subject')}: {name} is {len(value.encode())} bytes long and X.509 allows at most 64 "
                "(the default subject is CN=<user name>)"
            )
        elif name in ("C", "countryName") and not re.fullmatch(r"[A-Za-z]{2}", value):
            problems.append(f"{_name('subject')}: {name} must be a two-letter country code")
        elif name in ("serialNumber", "dnQualifier") and not PRINTABLE.fullmatch(value):
            problems.append(f"{_name('subject')}: {name} may only hold ASCII letters, digits, spaces and '()+,-./:=?")
    return problems


def _dir_problem(value: Any) -> str | None:
    if (
        isinstance(value, str)
        and value.startswith("/")
        and value != "/"
        and "\x00" not in value
        and "//" not in value
        and not any(part in (".", "..") for part in value.split("/"))
    ):
        return None
    return f"{_name('dir')} must be a normalised absolute path other than /, without . or .. components"


def check_options(given: dict[str, Any], now: datetime.datetime) -> tuple[dict[str, Any], list[str]]:
    """The options with their defaults, numbers and booleans converted, and every rule they break.

    given: the role's options by their names without the prefix (unknown names are ignored). An option set to null,
    false or "" takes its default. The subject defaults to CN=<user name>, host_name must be given by the role (it
    passes inventory_hostname).
    """
    options = {name: given.get(name) for name in DEFAULTS}
    options = {name: DEFAULTS[name] if not_given(value) else value for name, value in options.items()}
    if isinstance(options["dir"], str) and len(options["dir"]) > 1:
        options["dir"] = options["dir"].rstrip("/") or "/"
    problems: list[str] = []

    user_name = options["user_name"]
    if not (isinstance(user_name, str) and USER_NAME.fullmatch(user_name)):
        problems.append(
            f"{_name('user_name')} is required: the IAM user of this host, 1 to 128 ASCII letters, digits or _+=,.@-"
        )
    elif options["subject"] is None:
        options["subject"] = {"commonName": user_name}
    dir_problem = _dir_problem(options["dir"])
    if dir_problem:
        problems.append(dir_problem)

    _number(options, "threshold_days", 0, " of days", problems)
    validity = _whole(options["validity_days"])
    last_day = (LAST_MOMENT - now).days
    if validity is None or validity < 1:
        problems.append(f"{_name('validity_days')} must be a whole number of days, 1 or more")
    elif validity > last_day:
        problems.append(
            f"{_name('validity_days')} must be at most {last_day}: a certificate cannot be valid after 9999-12-31"
        )
    else:
        options["validity_days"] = validity

    force = _boolean(options["force"])
    if force is None:
        problems.append(f"{_name('force')} must be true or false")
    else:
        options["force"] = force
    if options["old_certificate_action"] not in OLD_CERTIFICATE_ACTIONS:
        problems.append(f"{_name('old_certificate_action')} must be deactivate or delete")
    if options["key_type"] not in KEY_TYPES:
        problems.append(f"{_name('key_type')} must be RSA or ECC")
    elif options["key_type"] == "RSA":
        key_size = _whole(options["key_size"])
        if key_size is None or key_size < 2048:
            problems.append(f"{_name('key_size')} must be a number of bits, 2048 or more")
        else:
            options["key_size"] = key_size
    elif options["key_curve"] not in KEY_CURVES:
        problems.append(f"{_name('key_curve')} must be secp256r1, secp384r1 or secp521r1")
    if isinstance(user_name, str) or options["subject"] is not None:
        problems.extend(_subject_problems(options["subject"]))

    for option in ("owner", "group", "account"):
        value = options[option]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int))):
            problems.append(f"{_name(option)} must be a string")
        elif value is not None:
            options[option] = str(value)
    for option in ("check_command", "check_tasks", "iam_host", "host_name"):
        if options[option] is not None and not isinstance(options[option], str):
            problems.append(f"{_name(option)} must be a string")
    if options["host_name"] is None:
        problems.append(f"{_name('host_name')} is required: the role passes the inventory host name")
    if isinstance(options["check_command"], str):
        try:
            if not shlex.split(options["check_command"]):
                problems.append(f"{_name('check_command')} is empty")
        except ValueError as exc:
            problems.append(f"{_name('check_command')} cannot be split into arguments ({exc})")

    if (
        isinstance(options["validity_days"], int)
        and isinstance(options["threshold_days"], int)
        and options["validity_days"] <= options["threshold_days"]
        and options["force"] is not True
    ):
        problems.append(
            f"{_name('validity_days')} ({options['validity_days']}) must be greater than {_name('threshold_days')} "
            f"({options['threshold_days']}), or every new certificate would be due at once (unless forced)"
        )
    _number(options, "verify_retries", 1, "", problems)
    _number(options, "verify_delay", 0, " of seconds", problems)
    lock_timeout = _whole(options["lock_timeout"])
    if lock_timeout is None or not 1 <= lock_timeout <= MAX_LOCK_TIMEOUT:
        problems.append(f"{_name('lock_timeout')} must be a whole number of seconds, 1 to {MAX_LOCK_TIMEOUT}")
    else:
        options["lock_timeout"] = lock_timeout
    return options, problems


def claim(options: dict[str, Any]) -> tuple[str, str | None]:
    """What two hosts must not share: the IAM user (its name regardless of case) in an account."""
    return str(options["user_name"]).casefold(), options["account"]
