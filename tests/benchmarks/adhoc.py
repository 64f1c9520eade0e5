"""Run `ansible localhost -m MODULE -a JSON` and measure it: wall time and peak RSS of the whole process tree,
and, when GNU time is installed, wall time and peak RSS of the module's own Python process."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.benchmarks.common import BIN, LIBRARY, PYTHON, clean_environ, run_metered

GNU_TIME = "/usr/bin/time"
_HEAD = re.compile(r"^localhost \| (SUCCESS|CHANGED|FAILED!|UNREACHABLE!) => ", re.M)


@dataclass
class Run:
    seconds: float  # the ansible command, start to exit
    cpu_seconds: float  # user + system time of the whole tree
    tree_maxrss_kb: int  # the largest peak RSS of any process in its tree
    module_seconds: float | None  # the module's Python process alone (GNU time: 10 ms resolution)
    module_maxrss_kb: int | None
    result: dict[str, Any] = field(repr=False)


class AdHoc:
    """Ad-hoc ansible with the collection from `collections` and the floor module from tests/benchmarks/library.

    The endpoint reaches both modules the same way: AWS_ENDPOINT_URL_IAM, which botocore reads itself.
    """

    def __init__(self, collections: Path) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="certops-bench-ansible-"))
        config = self.home / "ansible.cfg"
        config.write_text("# certops.aws benchmark: defaults only\n")  # no /etc/ansible or ~/.ansible.cfg
        self._module_log = self.home / "module-time.txt"
        interpreter = PYTHON
        if Path(GNU_TIME).is_file():
            # The module runs under this interpreter: GNU time reports its own wall time and peak RSS,
            # which the tree's peak (the controller's) would hide.
            wrapper = self.home / "python-timed"
            wrapper.write_text(f'#!/bin/sh\nexec {GNU_TIME} -f "%e %M" -o "{self._module_log}" "{PYTHON}" "$@"\n')
            wrapper.chmod(0o755)
            interpreter = str(wrapper)
        self._interpreter = interpreter
        self.env = clean_environ(
            ANSIBLE_CONFIG=str(config),
            ANSIBLE_HOME=str(self.home),
            ANSIBLE_LOCAL_TEMP=str(self.home / "tmp"),
            ANSIBLE_REMOTE_TEMP=str(self.home / "remote_tmp"),
            ANSIBLE_COLLECTIONS_PATH=str(collections),
            ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
            ANSIBLE_LIBRARY=str(LIBRARY),
            # Interpreter discovery picks a broken python on this machine; the venv's has boto3.
            ANSIBLE_PYTHON_INTERPRETER=interpreter,
            ANSIBLE_LOCALHOST_WARNING="false",
            ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
            ANSIBLE_NOCOLOR="1",
        )

    def close(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)

    def run(self, module: str, args: dict[str, Any], endpoint: str) -> Run:
        argv = [str(BIN / "ansible"), "localhost", "-m", module, "-a", json.dumps(args)]
        if self._interpreter != PYTHON:
            # The implicit localhost runs modules with the controller's python whatever the configuration says;
            # an extra var is the one setting that wins over that.
            argv += ["-e", json.dumps({"ansible_python_interpreter": self._interpreter})]
        env = {**self.env, "AWS_ENDPOINT_URL_IAM": endpoint}
        self._module_log.unlink(missing_ok=True)
        # An all_users result is megabytes: run_metered writes the output to files, not pipes.
        done = run_metered(argv, env, self.home / "meter.json")
        returncode, stdout, stderr, measured = done.returncode, done.stdout, done.stderr, done.measured
        if measured is None:
            raise RuntimeError(f"the meter did not run {' '.join(argv)} (rc {returncode}):\n{stderr}")
        head = _HEAD.search(stdout)
        if returncode != 0 or head is None or head.group(1) != "SUCCESS":
            raise RuntimeError(f"{' '.join(argv)} failed (rc {returncode}):\n{stdout[-3000:]}\n{stderr}")
        result, _end = json.JSONDecoder().raw_decode(stdout, head.end())
        module_seconds = module_kb = None
        if self._module_log.exists():
            numbers = self._module_log.read_text().split()[-2:]
            module_seconds, module_kb = float(numbers[0]), int(numbers[1])
        return Run(
            measured["seconds"], measured["cpu_seconds"], measured["maxrss_kb"], module_seconds, module_kb, result
        )
