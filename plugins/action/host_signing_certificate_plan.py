# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decide one host's run of the role host_signing_certificate, on the controller and without any call: the pure
planner of module_utils/host_rotation.py on what the host's look and the IAM listing returned.

An action plugin rather than a filter: one task decides, previews in check mode (changed, and the diff of the
host's pairs and the user's certificates) and hands the steps their arguments, and it knows the ansible process
that runs the play (the lock's holder) without a module run on any host. Documented in plugins/modules/.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.certops.aws.plugins.module_utils.certificate import try_parse_certificate, utc_now
from ansible_collections.certops.aws.plugins.module_utils.host_layout import controller_identity
from ansible_collections.certops.aws.plugins.module_utils.host_rotation import plan_host


def _made_for(record: Mapping) -> list[str] | None:
    parsed = try_parse_certificate(record.get("certificate_body"))
    return list(parsed.made_for) if parsed is not None and parsed.made_for else None


class ActionModule(ActionBase):
    _requires_connection = False
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        look, certificates = args.get("look"), args.get("certificates")
        shared_with = args.get("shared_with") or []
        if not (isinstance(look, Mapping) and isinstance(look.get("options"), Mapping) and "directory" in look):
            raise AnsibleActionFail("look must be the registered result of certops.aws.host_signing_certificate_info")
        if not isinstance(certificates, list) or not all(isinstance(item, Mapping) for item in certificates):
            raise AnsibleActionFail("certificates must be what certops.aws.iam_signing_certificate_info returned")
        if not isinstance(shared_with, list):
            raise AnsibleActionFail("shared_with must be a list of host names")
        options = dict(look["options"])
        records = [{**record, "made_for": _made_for(record)} for record in certificates]
        plan = plan_host(options, dict(look["directory"]), records, utc_now(), [str(host) for host in shared_with])
        result["plan"] = plan.as_dict(token=look["directory"].get("token"))
        result["run"] = {"id": uuid.uuid4().hex, "controller": controller_identity(), "lease": options["lock_timeout"]}
        result["msg"] = plan.summary()
        # The decision writes nothing; in check mode, `changed` previews whether the run would.
        result["changed"] = bool(self._play_context.check_mode and plan.changes)
        if self._play_context.diff and plan.changes:
            result["diff"] = {"before": plan.before, "after": plan.after}
        return result
