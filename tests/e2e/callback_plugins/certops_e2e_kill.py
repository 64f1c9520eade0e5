# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: kills the whole run once a named task is done, as a power cut or an OOM kill would.

SIGKILL to the process group of ansible-playbook (the test runner starts each run in a session of its own): the
controller, its workers and the modules they run stop at once; no rescue or always block runs, no lock is released.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: certops_e2e_kill
type: aggregate
short_description: Kill the run after a named task (end-to-end tests only)
description:
  - When the environment variable E(CERTOPS_E2E_KILL_AFTER) names a task (its name without the role prefix), kills
    the process group of the run with SIGKILL as soon as that task is done on a host; does nothing otherwise.
options: {}
"""

import os
import signal

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "certops_e2e_kill"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.after = os.environ.get("CERTOPS_E2E_KILL_AFTER")

    def _done(self, result) -> None:
        name = result._task.get_name()
        if self.after and (name == self.after or name.endswith(f" : {self.after}")):
            os.killpg(os.getpgrp(), signal.SIGKILL)

    def v2_runner_on_ok(self, result) -> None:
        self._done(result)
