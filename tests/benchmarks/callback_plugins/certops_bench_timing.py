# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark-only callback: when each task of a playbook started and ended, on the wall clock.

The fleet benchmark (tests/benchmarks/fleet.py) enables it next to the default stdout callback to split an
ansible-playbook run into Ansible's start-up, each task, and the module's requests (which the proxy times).
It is not part of the collection's plugins.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: certops_bench_timing
type: aggregate
short_description: Write the start and end time of each task as JSON (benchmarks only)
description:
  - At the end of the playbook, writes to the file named by the environment variable E(CERTOPS_BENCH_TIMING)
    when the callback was loaded, when the playbook started, and when each task started and ended
    (seconds since the epoch); does nothing when it is not set.
options: {}
"""

import json
import os
import time
from typing import Any

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "certops_bench_timing"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded = time.time()
        self._playbook_start: float | None = None
        self._tasks: list[dict[str, Any]] = []

    def _end_task(self) -> None:
        if self._tasks and self._tasks[-1]["end"] is None:
            self._tasks[-1]["end"] = time.time()

    def v2_playbook_on_start(self, playbook: Any) -> None:
        self._playbook_start = time.time()

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        self._end_task()
        self._tasks.append({"task": task.get_name(), "action": task.action, "start": time.time(), "end": None})

    def v2_playbook_on_handler_task_start(self, task: Any) -> None:
        self.v2_playbook_on_task_start(task, False)

    def v2_playbook_on_stats(self, stats: Any) -> None:
        self._end_task()
        path = os.environ.get("CERTOPS_BENCH_TIMING")
        if not path:
            return
        timing = {
            "loaded": self._loaded,
            "playbook_start": self._playbook_start,
            "tasks": self._tasks,
            "end": time.time(),
        }
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(timing, handle)
