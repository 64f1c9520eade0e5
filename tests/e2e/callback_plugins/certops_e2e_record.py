# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: records every task result so the end-to-end tests can read them as data.

ansible-core 2.17 to 2.19 ship no JSON stdout callback; this one runs next to the default stdout callback,
so the tests see the same screen output a user sees and, separately, each result as one JSON line.
It is not part of the collection's plugins and is enabled only by the test runner.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: certops_e2e_record
type: aggregate
short_description: Record each task result as a JSON line (end-to-end tests only)
description:
  - Appends one JSON object per task result to the file named by the environment variable
    E(CERTOPS_E2E_RESULTS); does nothing when it is not set.
options: {}
"""

import json
import os
from typing import Any

from ansible.plugins.callback import CallbackBase


def _own_name(name: str, task: Any) -> str:
    """The task's own name: ansible-core 2.21 prefixes the name of a role's task with "<role> : ", earlier series
    do not."""
    role = getattr(task, "_role", None)
    if role is not None:
        for prefix in {f"{role.get_name(include_role_fqcn=fqcn)} : " for fqcn in (True, False)}:
            if name.startswith(prefix):
                return name[len(prefix) :]
    return name


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "certops_e2e_record"
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, result: Any, status: str, ignored: bool = False) -> None:
        path = os.environ.get("CERTOPS_E2E_RESULTS")
        if not path:
            return
        # ansible-core 2.19 made `host`, `task` and `result` public (and deprecated the private names); 2.17 and
        # 2.18 have only `_host`, `_task` and `_result`.
        host = result.host if hasattr(result, "host") else result._host
        task = result.task if hasattr(result, "task") else result._task
        payload = result.result if hasattr(result, "result") else result._result
        entry = {
            "host": host.get_name(),
            "task": _own_name(result.task_name, task),
            "action": task.action,
            "status": status,
            "ignored": bool(ignored),
            "changed": result.is_changed(),
            "result": payload,
        }
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, default=str) + "\n")

    def v2_runner_on_ok(self, result: Any) -> None:
        self._record(result, "ok")

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._record(result, "failed", ignored=ignore_errors)

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._record(result, "unreachable")
