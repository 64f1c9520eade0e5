"""Run a command and write its wall time and the peak RSS of its process tree, as JSON, to a file.

    python -I -S tests/benchmarks/meter.py RESULT.json COMMAND [ARG...]

Why a launcher: Linux carries a process's peak RSS across fork and exec, so a child started straight from the
benchmark (with moto, boto3 and matplotlib loaded) would report at least the benchmark's own peak. Started from
this small process instead, the command's peak is its own. os.wait4 gives the child's rusage together with that
of every descendant it waited for: ru_maxrss is then the largest peak of any process in the tree. Standard
library only, and run with -I -S, so the launcher stays a few MB.
"""

import json
import os
import subprocess
import sys
import time


def main() -> int:
    result_path, argv = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    process = subprocess.Popen(argv)
    _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = code = os.waitstatus_to_exitcode(status)
    with open(result_path, "w") as stream:
        cpu = usage.ru_utime + usage.ru_stime  # less sensitive than wall time to other load on the machine
        json.dump({"seconds": seconds, "cpu_seconds": cpu, "maxrss_kb": usage.ru_maxrss, "returncode": code}, stream)
    return code


if __name__ == "__main__":
    sys.exit(main())
