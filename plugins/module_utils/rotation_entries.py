# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `rotations` of the playbook rotate_signing_certificates, checked as data before anything is read or written.

Pure: the file system is reached only through the functions given (whether a path is a file; a file's text).
An entry is a mapping of `user` and either `certificate_file` (a path, relative to the directory the command runs
in) or `certificate` (the PEM text, as a survey or extra vars give it). Entries are named by position, from 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ENTRY_KEYS = ("user", "certificate_file", "certificate")
HOW_TO_GIVE = (
    "give them as a list `rotations` of entries with `user` and `certificate_file` (a path) or `certificate` (the "
    "PEM text), for example with -e @rotations.yml"
)


def _given(value: Any) -> bool:
    return value is not None and value is not False and value != ""


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
    if not _given(user):
        problems.append(f"{name}: user is required")
    elif not isinstance(user, (str, int)) or isinstance(user, bool):
        problems.append(f"{name}: user must be a string, got {type(user).__name__}")
    path, body = entry.get("certificate_file"), entry.get("certificate")
    if _given(path) and _given(body):
        problems.append(f"{name}: give certificate_file or certificate, not both")
    elif _given(body):
        if not isinstance(body, str):
            problems.append(f"{name}: certificate must be the PEM text, got {type(body).__name__}")
    elif not _given(path):
        problems.append(f"{name}: give certificate_file (a path) or certificate (the PEM text)")
    elif not isinstance(path, str):
        problems.append(f"{name}: certificate_file must be a path, got {type(path).__name__}")
    elif not is_file(path):
        problems.append(f"{name}: certificate file not found: {path}")
    return problems


def entry_problems(rotations: Any, is_file: Callable[[str], bool]) -> list[str]:
    """Every reason the rotations cannot be carried out as given, in order; empty when they can."""
    if not _given(rotations) or rotations == []:
        return [f"no rotations given: {HOW_TO_GIVE}"]
    if not isinstance(rotations, list):
        return [f"rotations must be a list, got {type(rotations).__name__}: {HOW_TO_GIVE}"]
    problems = [
        problem for number, entry in enumerate(rotations, 1) for problem in _entry_problems(number, entry, is_file)
    ]
    seen: dict[str, int] = {}
    for entry in rotations:
        user = entry.get("user") if isinstance(entry, dict) else None
        if isinstance(user, (str, int)) and not isinstance(user, bool) and _given(user):
            key = str(user).casefold()  # IAM user names ignore case
            seen[key] = seen.get(key, 0) + 1
    twice: dict[str, str] = {}  # casefolded -> the spelling of its first entry
    for entry in rotations:
        if isinstance(entry, dict) and _counted_twice(entry, seen):
            twice.setdefault(str(entry["user"]).casefold(), str(entry["user"]))
    if twice:
        problems.append(f"a user appears more than once in rotations: {', '.join(twice.values())}")
    return problems


def _counted_twice(entry: dict[str, Any], seen: dict[str, int]) -> bool:
    user = entry.get("user")
    return isinstance(user, (str, int)) and not isinstance(user, bool) and seen.get(str(user).casefold(), 0) > 1


def rotation_users(rotations: list[dict[str, Any]], read: Callable[[str], str]) -> list[dict[str, str]]:
    """The role's users (user_name, new_certificate) from checked rotations: a file's text, or the text given."""
    return [
        {
            "user_name": str(entry["user"]),
            "new_certificate": entry["certificate"]
            if _given(entry.get("certificate"))
            else read(entry["certificate_file"]),
        }
        for entry in rotations
    ]
