# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side filters of the role host_signing_certificate: which hosts share an IAM user, and what a run did.

Documented in shared_iam_users.yml and host_rotation_outcome.yml beside this file.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.certops.aws.plugins.module_utils.host_rotation import hosts_sharing_users, outcome


def shared_iam_users(claims):
    try:
        return hosts_sharing_users([(host, dict(options or {})) for host, options in claims])
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"shared_iam_users: give [host, options] pairs ({exc})") from None


def host_rotation_outcome(plan, check_mode=False, steps=None):
    if not isinstance(plan, Mapping) or not isinstance(plan.get("plan"), Mapping):
        raise AnsibleFilterError(
            "host_rotation_outcome: give the registered result of certops.aws.host_signing_certificate_plan"
        )
    # The registered results are read key by key (never copied whole): a skipped task's result carries keys that
    # ansible-core 2.21 warns about when they are read.
    done = dict(steps or {}) if isinstance(steps, Mapping) else {}
    return outcome(dict(plan["plan"]), boolean(check_mode), done)


class FilterModule:
    def filters(self):
        return {"shared_iam_users": shared_iam_users, "host_rotation_outcome": host_rotation_outcome}
