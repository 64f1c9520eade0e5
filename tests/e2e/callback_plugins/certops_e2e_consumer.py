# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: plays the consumer (user nobody) acting between two tasks of a run, as a consumer polling its
directory in a loop would: once a named task is done, runs a shell script as uid/gid 65534 and logs what it did.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: certops_e2e_consumer
type: aggregate
short_description: Run a script as user nobody after a named task (end-to-end tests only)
description:
  - When E(CERTOPS_E2E_CONSUMER_AFTER) names a task and E(CERTOPS_E2E_CONSUMER_SCRIPT) holds a script, runs the
    script with C(sh -e) as uid and gid 65534 the first time that task is done, and writes its exit code and output
    to the file E(CERTOPS_E2E_CONSUMER_LOG).
options: {}
"""

import os
import subprocess

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "certops_e2e_consumer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.after = os.environ.get("CERTOPS_E2E_CONSUMER_AFTER")
        self.script = os.environ.get("CERTOPS_E2E_CONSUMER_SCRIPT")
        self.done = False

    def v2_runner_on_ok(self, result) -> None:
        name = result._task.get_name()
        if self.done or not self.after or not (name == self.after or name.endswith(f" : {self.after}")):
            return
        self.done = True
        completed = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-ec", self.script or ""],
            capture_output=True,
            text=True,
            check=False,
        )
        with open(os.environ["CERTOPS_E2E_CONSUMER_LOG"], "w") as log:
            log.write(f"rc={completed.returncode}\n{completed.stdout}{completed.stderr}")
