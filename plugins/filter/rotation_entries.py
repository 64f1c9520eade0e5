# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side filters of the playbook rotate_signing_certificates: its `rotations` checked as data, and the
role's users made from them. Documented in rotation_entry_problems.yml and rotation_users.yml beside this file.

Paths are relative to the directory the command runs in (the controller's working directory).
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleFilterError

from ansible_collections.certops.aws.plugins.module_utils.rotation_entries import entry_problems, rotation_users


def _read(path: str) -> str:
    with open(os.path.realpath(path), encoding="utf-8") as handle:
        return handle.read()


def rotation_entry_problems(rotations):
    return entry_problems(rotations, lambda path: os.path.isfile(os.path.realpath(path)))


def _rotation_users(rotations):
    problems = rotation_entry_problems(rotations)
    if problems:
        raise AnsibleFilterError(f"rotation_users: {'; '.join(problems)}")
    try:
        return rotation_users(rotations, _read)
    except (OSError, UnicodeDecodeError) as exc:
        raise AnsibleFilterError(f"rotation_users: a certificate file could not be read: {exc}") from None


class FilterModule:
    def filters(self):
        return {"rotation_entry_problems": rotation_entry_problems, "rotation_users": _rotation_users}
