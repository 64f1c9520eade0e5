"""Section d: where the module's own process spends time and memory, against the floor module.

- Import cost: `python -X importtime`, the floor's imports (boto3, ansible.module_utils.basic) first, then the
  collection's module, so the collection's entry is exactly what it adds; medians of several fresh processes.
- Phases: a fresh process per run does what each module's main() does, step by step, against the moto server:
  imports, AnsibleModule() (argument spec), client creation, the listing call, turning the answer into the
  result (certificate parsing for the collection); with the process's peak RSS after each step.

The phases run in fresh child processes: tests/benchmarks/phases.py.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

from tests.benchmarks.common import METER, PYTHON, REPO, clean_environ, median

INFO_MODULE = "ansible_collections.certops.aws.plugins.modules.iam_signing_certificate_info"
FLOOR_IMPORTS = ("boto3", "ansible.module_utils.basic")
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)$")


def import_tree(collections: Path) -> list[tuple[int, str, int]]:
    """(depth, name, cumulative µs) for every import of the floor's imports followed by the collection module."""
    statement = "; ".join(f"import {name}" for name in (*FLOOR_IMPORTS, INFO_MODULE))
    done = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", statement],
        env=clean_environ(PYTHONPATH=str(collections)),
        capture_output=True,
        text=True,
        check=True,
    )
    entries = []
    for line in done.stderr.splitlines():
        match = _LINE.match(line)
        if match:
            entries.append((len(match.group(3)) // 2, match.group(4), int(match.group(2))))
    return entries


def import_costs(collections: Path, repeats: int, depth: int = 2, threshold_ms: float = 1.0) -> dict[str, Any]:
    """Median cumulative import time (ms) of the floor's imports, the collection module and what it pulls in
    (down to `depth` levels, entries of at least `threshold_ms`)."""
    samples: dict[str, list[float]] = defaultdict(list)
    depth_of: dict[str, int] = {}
    order: list[str] = []
    for _repeat in range(repeats):
        group: list[tuple[int, str, int]] = []
        for entry in import_tree(collections):
            # -X importtime prints a module after everything it imported: a top-level line closes a group.
            group.append(entry)
            level, name, _cumulative = entry
            if level != 0:
                continue
            if name in FLOOR_IMPORTS:
                kept = [entry]
            elif name == INFO_MODULE:
                # Reversed, the post-order becomes a pre-order: each module above what it imports.
                kept = [e for e in reversed(group) if e[0] <= depth and (e[0] == 0 or e[2] >= threshold_ms * 1000)]
            else:
                kept = []
            for level, name, cumulative in kept:
                if name not in depth_of:
                    depth_of[name] = level
                    order.append(name)
                samples[name].append(cumulative / 1000)
            group = []
    return {
        "repeats": repeats,
        "depth": depth,
        "threshold_ms": threshold_ms,
        "entries": [
            {"name": name, "depth": depth_of[name], "ms": median(samples[name]), "seen": len(samples[name])}
            for name in order
        ],
    }


def _iqr(values: list[float]) -> float | None:
    """Interquartile range: how far single runs spread, so a reader can tell a difference from noise."""
    if len(values) < 4:
        return None
    quartiles = statistics.quantiles(values, n=4)
    return quartiles[2] - quartiles[0]


def phase_costs(collections: Path, endpoint: str, user_name: str, repeats: int) -> dict[str, Any]:
    """Median of each step over `repeats` fresh processes per arm, arms alternated."""
    env = clean_environ(PYTHONPATH=os.pathsep.join([str(collections), str(REPO)]), AWS_ENDPOINT_URL_IAM=endpoint)
    runs: dict[str, list[dict[str, Any]]] = {"collection": [], "floor": []}
    for number in range(repeats):
        for arm in ("collection", "floor") if number % 2 == 0 else ("floor", "collection"):
            # Through the meter, so that the child's peak RSS does not start at this process's (see meter.py).
            argv = [PYTHON, "-I", "-S", str(METER), os.devnull, PYTHON, "-m", "tests.benchmarks.phases", arm, user_name]
            done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True, cwd=REPO)
            runs[arm].append(json.loads(done.stdout))
    summary: dict[str, Any] = {"repeats": repeats}
    for arm, arm_runs in runs.items():
        names = [step["step"] for step in arm_runs[0]["steps"]]
        by_name = [{step["step"]: step for step in run["steps"]} for run in arm_runs]
        summary[arm] = [
            {
                "step": name,
                "ms": None if name == names[0] else median([steps[name]["ms"] for steps in by_name if name in steps]),
                "iqr_ms": None if name == names[0] else _iqr([steps[name]["ms"] for steps in by_name if name in steps]),
                "peak_rss_kb": median([steps[name]["peak_rss_kb"] for steps in by_name if name in steps]),
            }
            for name in names
        ]
        summary[f"{arm}_total_ms"] = median([sum(s["ms"] or 0 for s in run["steps"]) for run in arm_runs])
    return summary


def first_call_costs(endpoint: str, user_name: str, repeats: int) -> dict[str, Any]:
    """First and second listing of a fresh client, through a paginator or directly; medians of fresh processes."""
    env = clean_environ(PYTHONPATH=str(REPO), AWS_ENDPOINT_URL_IAM=endpoint)
    runs: dict[str, list[dict[str, Any]]] = {"paginator": [], "direct": []}
    for number in range(repeats):
        for mode in ("paginator", "direct") if number % 2 == 0 else ("direct", "paginator"):
            argv = [PYTHON, "-m", "tests.benchmarks.phases", "first-call", mode, user_name]
            done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True, cwd=REPO)
            runs[mode].append(json.loads(done.stdout))
    return {
        mode: {
            "first_ms": median([run["first_ms"] for run in mode_runs]),
            "second_ms": median([run["second_ms"] for run in mode_runs]),
        }
        for mode, mode_runs in runs.items()
    } | {"repeats": repeats}
