"""Section b: task overhead of the info module for one user against the floor module, alternated A/B."""

from __future__ import annotations

from typing import Any

from tests.benchmarks.adhoc import AdHoc, Run
from tests.benchmarks.common import median, median_interval

ARMS = {
    "collection": "certops.aws.iam_signing_certificate_info",
    "floor": "floor_signing_certificates",
}


def _summary(runs: list[Run]) -> dict[str, Any]:
    module_seconds = [run.module_seconds for run in runs if run.module_seconds is not None]
    module_kb = [run.module_maxrss_kb for run in runs if run.module_maxrss_kb is not None]
    return {
        "seconds": [run.seconds for run in runs],
        "cpu_seconds": [run.cpu_seconds for run in runs],
        "tree_maxrss_kb": [run.tree_maxrss_kb for run in runs],
        "module_seconds": module_seconds,
        "module_maxrss_kb": module_kb,
        "median_seconds": median([run.seconds for run in runs]),
        "median_cpu_seconds": median([run.cpu_seconds for run in runs]),
        "median_tree_maxrss_kb": median([run.tree_maxrss_kb for run in runs]),
        "median_module_seconds": median(module_seconds) if module_seconds else None,
        "median_module_maxrss_kb": median(module_kb) if module_kb else None,
    }


def _pair_ratios(a: list[float], b: list[float]) -> list[float]:
    return [x / y for x, y in zip(a, b, strict=True) if y]


def measure(adhoc: AdHoc, endpoint: str, user_name: str, runs: int) -> dict[str, Any]:
    """`runs` pairs; the order flips every pair (ABBA...) so a drift in machine load hits both arms alike."""
    args = {"user_name": user_name}
    for module in ARMS.values():  # warm-up: page cache, __pycache__, ansible's caches; not recorded
        adhoc.run(module, args, endpoint)
    recorded: dict[str, list[Run]] = {arm: [] for arm in ARMS}
    for number in range(runs):
        order = list(ARMS) if number % 2 == 0 else list(reversed(ARMS))
        for arm in order:
            recorded[arm].append(adhoc.run(ARMS[arm], args, endpoint))
    same = {len(run.result["certificates"]) for runs_of_arm in recorded.values() for run in runs_of_arm}
    if len(same) != 1:
        raise RuntimeError(f"the arms returned different numbers of certificates: {same}")
    collection, floor = recorded["collection"], recorded["floor"]
    ratios: dict[str, float | None] = {}
    intervals: dict[str, tuple[float, float] | None] = {}
    for key in ("seconds", "cpu_seconds", "tree_maxrss_kb", "module_seconds", "module_maxrss_kb"):
        a = [getattr(run, key) for run in collection]
        b = [getattr(run, key) for run in floor]
        pairs = _pair_ratios(a, b) if None not in a + b else []
        ratios[key] = median(pairs) if pairs else None
        # Single pairs differ by ±10 % and more on this kind of machine: the interval says what the median is worth.
        intervals[key] = median_interval(pairs) if pairs else None
    return {
        "runs": runs,
        "user_name": user_name,
        "certificates": same.pop(),
        "modules": ARMS,
        "collection": _summary(collection),
        "floor": _summary(floor),
        "median_pair_ratio": ratios,
        "median_pair_ratio_ci95": intervals,
    }
