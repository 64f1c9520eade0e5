# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `rotations` of the playbook rotate_signing_certificates, checked as data before anything is read or written.

Pure: the file system is reached only through the functions given (whether a path is a file; a file's text).
An entry is a mapping of `user` and either `certificate_file` (a path, relative to the directory the command runs
in) or `certificate` (the PEM text, as a survey or extra vars give it). Entries are named by position, from 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from ansible_collections.certops.aws.plugins.module_utils.rules import not_given, user_name_of

ENTRY_KEYS = ("user", "certificate_file", "certificate")
HOW_TO_GIVE = (
    "give them as a list `rotations` of entries with `user` and `certificate_file` (a path) or `certificate` (the "
    "PEM text), for example with -e @rotations.yml"
)


def _name(number: int, entry: Any) -> str:
    user = entry.get("user") if isinstance(entry, dict) else None
    return f"rotations[{number}] ({user})" if isinstance(user, str) and user else f"rotations[{number}]"


def _entry_problems(number: int, entry: Any, is_file: Callable[[str], bool]) -> list[str]:
    if not isinstance(entry, dict):
        return [
            f"rotations[{number}] must be a mapping of user and certificate_file or certificate, got "
            f"{type(entry).__name__}"
        ]
    name, problems = _name(number, entry), []
    unknown = sorted(str(key) for key in entry if key not in ENTRY_KEYS)
    if unknown:
        problems.append(f"{name}: unknown key {', '.join(map(repr, unknown))} (user, certificate_file, certificate)")
    user = entry.get("user")
    if not_given(user):
        problems.append(f"{name}: user is required")
    elif user_name_of(user) is None:
        problems.append(f"{name}: user must be a string, got {type(user).__name__}")
    path, body = entry.get("certificate_file"), entry.get("certificate")
    if not not_given(path) and not not_given(body):
        problems.append(f"{name}: give certificate_file or certificate, not both")
    elif not not_given(body):
        if not isinstance(body, str):
            problems.append(f"{name}: certificate must be the PEM text, got {type(body).__name__}")
    elif not_given(path):
        problems.append(f"{name}: give certificate_file (a path) or certificate (the PEM text)")
    elif not isinstance(path, str):
        problems.append(f"{name}: certificate_file must be a path, got {type(path).__name__}")
    elif not is_file(path):
        problems.append(f"{name}: certificate file not found: {path}")
    return problems


def entry_problems(rotations: Any, is_file: Callable[[str], bool]) -> list[str]:
    """Every reason the rotations cannot be carried out as given, in order; empty when they can."""
    if not_given(rotations) or rotations == []:
        return [f"no rotations given: {HOW_TO_GIVE}"]
    if not isinstance(rotations, list):
        return [f"rotations must be a list, got {type(rotations).__name__}: {HOW_TO_GIVE}"]
    problems = [
        problem for number, entry in enumerate(rotations, 1) for problem in _entry_problems(number, entry, is_file)
    ]
    names = [user_name_of(entry.get("user")) for entry in rotations if isinstance(entry, dict)]
    names = [name for name in names if name is not None]
    counts = Counter(name.casefold() for name in names)  # IAM user names ignore case
    twice: dict[str, str] = {}  # casefolded -> the spelling of its first entry
    for name in names:
        if counts[name.casefold()] > 1:
            twice.setdefault(name.casefold(), name)
    if twice:
        problems.append(f"a user appears more than once in rotations: {', '.join(twice.values())}")
    return problems


def rotation_users(rotations: list[dict[str, Any]], read: Callable[[str], str]) -> list[dict[str, str]]:
    """The role's users (user_name, new_certificate) from checked rotations: a file's text, or the text given."""
    return [
        {
            "user_name": str(entry["user"]),
            "new_certificate": read(entry["certificate_file"])
            if not_given(entry.get("certificate"))
            else entry["certificate"],
        }
        for entry in rotations
    ]
