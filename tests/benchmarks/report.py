"""docs/performance.md and the fan-out chart, generated from one run's results (no number is typed by hand)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.benchmarks.common import QUIET_CORES, median
from tests.benchmarks.fleet import GOAL_SECONDS as FLEET_GOAL
from tests.benchmarks.fleet import TARGET_SECONDS as FLEET_TARGET
from tests.benchmarks.hosts import CASE_LABELS as HOST_CASES

TIME_TARGET = 1.10
MEMORY_TARGET = 1.10
FANOUT_TARGET = 6.0
INFO = "certops.aws.iam_signing_certificate_info"


# -- formatting ----------------------------------------------------------------------------------------------------
def s(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:.2f} s"


def ms(milliseconds: float | None) -> str:
    return "n/a" if milliseconds is None else f"{milliseconds:.1f} ms"


def mb(kilobytes: float | None) -> str:
    return "n/a" if kilobytes is None else f"{kilobytes / 1024:.1f} MB"


def x(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}x"


def x3(ratio: float | None) -> str:
    """Ratios judged against a 1.10 target: three decimals, so 1.104 does not print as a passing 1.10."""
    return "n/a" if ratio is None else f"{ratio:.3f}x"


def interval(results: dict[str, Any], key: str) -> str:
    """The 95 % confidence interval of a median pair ratio, when the run recorded one."""
    bounds = results["overhead"].get("median_pair_ratio_ci95", {}).get(key)
    return f"{bounds[0]:.3f} to {bounds[1]:.3f}" if bounds else "n/a"


def uncertainty(results: dict[str, Any], key: str, target: float) -> str:
    """What the interval says about a verdict: nothing, or that the noise could turn it."""
    ratio = results["overhead"]["median_pair_ratio"][key]
    bounds = results["overhead"].get("median_pair_ratio_ci95", {}).get(key)
    if not bounds or bounds[0] > target or bounds[1] <= target:
        return ""
    if ratio <= target:
        return (
            f" The 95 % interval of the median ({bounds[0]:.3f} to {bounds[1]:.3f}) reaches past the target, so the "
            "margin is within this machine's noise; more pairs (`--runs`) would narrow it."
        )
    return (
        f" The 95 % interval of the median ({bounds[0]:.3f} to {bounds[1]:.3f}) still includes the target: the miss "
        "is within this machine's noise; more pairs (`--runs`) would tell."
    )


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _column in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def span(values: list[float], unit: Any) -> str:
    return f"{unit(min(values))} to {unit(max(values))}" if values else "n/a"


# -- derived figures -----------------------------------------------------------------------------------------------
def fanout_point(results: dict[str, Any]) -> dict[str, Any]:
    """The size the fan-out target is judged at (300 users in a full run)."""
    sizes = results["fanout"]["sizes"]
    size = results["fanout"].get("target_size") or (300 if "300" in sizes else max(map(int, sizes)))
    return sizes[str(size)]


def speedup(entry: dict[str, Any]) -> float:
    return entry["sequential"]["median_seconds"] / entry["collection"]["net_seconds"]


def api_calls_ok(results: dict[str, Any]) -> bool:
    return all(
        row["lists"] == row["expected_lists"] and row["writes"] == row["expected_writes"] and not row["failed"]
        for row in results["api_calls"]
    )


def fleet_point(results: dict[str, Any]) -> dict[str, Any]:
    """The size the fleet target is judged at (100 users in a full run)."""
    fleet = results["fleet"]
    return fleet["sizes"][str(fleet["target_size"])]


def key_figures(results: dict[str, Any]) -> dict[str, float | None]:
    """What a before/after comparison shows (the sections the run has)."""
    figures: dict[str, float | None] = {}
    if "overhead" in results:
        ratio = results["overhead"]["median_pair_ratio"]
        figures["task time vs floor (median pair ratio)"] = ratio["seconds"]
        figures["task peak RSS (tree) vs floor"] = ratio["tree_maxrss_kb"]
        figures["module process peak RSS vs floor"] = ratio.get("module_maxrss_kb")
    if "fanout" in results:
        point = fanout_point(results)
        figures[f"fan-out net time, {point['users']} users (s)"] = point["collection"]["net_seconds"]
        figures[f"sequential loop, {point['users']} users (s)"] = point["sequential"]["median_seconds"]
        figures[f"fan-out speed-up, {point['users']} users"] = speedup(point)
    if "fleet" in results:
        for key, entry in sorted(results["fleet"]["sizes"].items(), key=lambda item: int(item[0])):
            figures[f"fleet rotation through the role, {key} users (s)"] = entry["role"]["median_seconds"]
        point = fleet_point(results)
        figures[f"fleet rotation, concurrent script, {point['users']} users (s)"] = point["script"]["median_seconds"]
    if "hosts" in results:
        for entry in _host_sizes(results["hosts"]):
            for case, label in HOST_CASES.items():
                figures[f"{label}, {entry['hosts']} hosts: CPU per host (s)"] = entry["cases"][case]["cpu_per_host"]
    return figures


# -- the chart -----------------------------------------------------------------------------------------------------
def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on a build machine
    import matplotlib.pyplot as plt

    fanout = results["fanout"]
    sizes = sorted(fanout["sizes"].values(), key=lambda entry: entry["users"])
    users = [entry["users"] for entry in sizes]
    latency = fanout["latency_ms"] / 1000
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 6), gridspec_kw={"width_ratios": [3, 2]})

    def line(axes: Any, xs: list[int], ys: list[float], label: str, **style: Any) -> None:
        axes.plot(xs, ys, label=label, **style)
        for x_value, y_value in zip(xs, ys, strict=True):
            axes.annotate(f"{y_value:.1f}", (x_value, y_value), textcoords="offset points", xytext=(4, 4), fontsize=8)

    sequential = [entry["sequential"]["median_seconds"] for entry in sizes]
    line(left, users, sequential, "sequential boto3 loop (in-process)", marker="s", color="tab:red")
    line(
        left,
        users,
        [entry["collection"]["net_seconds"] for entry in sizes],
        "collection, all_users, max_concurrency 8 (net of start-up)",
        marker="o",
        color="tab:blue",
    )
    left.plot(
        users,
        [entry["collection"]["median_all_users_seconds"] for entry in sizes],
        label="collection, whole ad-hoc command",
        marker="o",
        linestyle=":",
        color="tab:blue",
        alpha=0.6,
    )
    bound = [t / 8 for t in sequential]
    left.plot(users, bound, label="sequential / 8 (the bound at 8 workers)", linestyle="--", color="gray")
    cli = [entry for entry in sizes if "awscli" in entry]
    if cli:
        line(
            left,
            [entry["users"] for entry in cli],
            [entry["awscli"]["seconds"] for entry in cli],
            "aws iam list-signing-certificates per user (AWS CLI v1)",
            marker="^",
            color="tab:green",
        )
    left.set_yscale("log")
    left.set_xlabel("IAM users (one certificate each)")
    left.set_ylabel("seconds (log scale)")
    left.set_title(f"Listing every user's certificates, {latency * 1000:.0f} ms added per request")
    left.set_xticks(users)
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)

    point = fanout_point(results)
    sweep = sorted(
        [*point.get("sweep", []), {"concurrency": 8, "net_seconds": point["collection"]["net_seconds"]}],
        key=lambda run: run["concurrency"],
    )
    concurrency = [run["concurrency"] for run in sweep]
    gains = [point["sequential"]["median_seconds"] / run["net_seconds"] for run in sweep]
    line(right, concurrency, gains, "collection (net of start-up)", marker="o", color="tab:blue")
    right.plot(concurrency, concurrency, linestyle="--", color="gray", label="ideal (speed-up = workers)")
    right.axhline(FANOUT_TARGET, color="tab:orange", linestyle=":", label=f"target at 8: {FANOUT_TARGET:.0f}x")
    right.set_xscale("log", base=2)
    right.set_xticks(concurrency, [str(c) for c in concurrency])
    right.set_ylim(0, max(*gains, 8) * 1.25)
    right.set_xlabel("max_concurrency")
    right.set_ylabel("speed-up over the sequential loop")
    right.set_title(f"{point['users']} users: speed-up by max_concurrency")
    right.grid(True, alpha=0.3)
    right.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# -- the document --------------------------------------------------------------------------------------------------
def markdown(
    results: dict[str, Any],
    baseline: dict[str, Any] | None,
    charts: dict[str, Path],
    doc_path: Path,
    rendered: str | None = None,
) -> str:
    """The whole of docs/performance.md; `rendered`: when the text was written again from stored results.

    charts: the chart of each section that has one ("fanout", "fleet"). A section the results do not hold (a run
    with --only and no earlier results.json to take it from) is left out, with a line saying so.
    """

    def link(name: str) -> str:
        return os.path.relpath(charts[name], doc_path.parent)

    sections = [
        ("api_calls", "1. API calls per task", lambda: _api_calls(results)),
        ("overhead", "2. Task overhead against the floor", lambda: _overhead(results)),
        ("fanout", "3. Fan-out", lambda: _fanout(results, link("fanout"))),
        ("fleet", "4. Fleet rotation", lambda: _fleet(results, link("fleet"))),
        ("second_rotation", "4b. The second rotation in a large account", lambda: _second_rotation(results)),
        ("profile", "5. Profile", lambda: _profile(results)),
        ("hosts", "6. Host rotation", lambda: _hosts(results)),
    ]
    parts = [_head(results, rendered), _how_to_run(results), _machine(results), _summary(results)]
    for name, title, render in sections:
        parts.append(render() if name in results else f"## {title}\n\nNot measured: no results for this section.")
    if baseline is not None:
        parts.append(_before_after(results, baseline))
    parts.append(_notes(results))
    return "\n\n".join(part.strip() for part in parts) + "\n"


def _provenance(results: dict[str, Any]) -> str:
    """When sections come from different runs (--only): which run measured which."""
    runs: dict[tuple[str, str], list[str]] = {}
    for name, origin in results.get("sections", {}).items():
        runs.setdefault((origin["generated"], origin["command"]), []).append(name)
    if len(runs) < 2:
        return ""
    lines = [
        f"- {', '.join(f'`{name}`' for name in names)}: `{command}` on {generated}"
        for (generated, command), names in sorted(runs.items())
    ]
    return "\n\nThe sections come from more than one run (`--only`):\n\n" + "\n".join(lines)


def _head(results: dict[str, Any], rendered: str | None) -> str:
    quick = (
        "\n\n> **This is a `--quick` run**: few runs and small sizes, to check the harness. Its figures are not the "
        "project's; run the benchmark without `--quick` before reading them."
        if results["quick"]
        else ""
    )
    again = f" Text written again from those figures on {rendered} (`--render-only`)." if rendered else ""
    return f"""
# Performance

What the collection costs, measured side by side with the cheapest way of doing the same work, on one machine in one
run. Generated by `{results["command"]}` on {results["generated"]} in {results["seconds"] / 60:.1f} minutes; do not
edit by hand (the text is in `tests/benchmarks/report.py`). Raw figures:
[performance/results.json](performance/results.json).{again}{_provenance(results)}
{quick}
"""


def _how_to_run(results: dict[str, Any]) -> str:
    return """
## How to run

From the repository root, with the project's venv (`make venv`):

```sh
.venv/bin/python -m tests.benchmarks.run          # everything: this file, performance/results.json, the chart
.venv/bin/python -m tests.benchmarks.run --quick  # a small run that only checks the harness
.venv/bin/python -m tests.benchmarks.run --only fleet  # one section again; the others stay from results.json
.venv/bin/python -m tests.benchmarks.run --only hosts --hosts-before 07297a0  # section 6, with the role before issue 18
.venv/bin/python -m tests.benchmarks.run --render-only  # this text again from performance/results.json
.venv/bin/python -m tests.benchmarks.run --help   # sizes, runs, latency, another checkout, --baseline
```

- It installs what it needs on first use: matplotlib, pinned in `tests/benchmarks/requirements.txt`, into the running
  venv; AWS CLI v1, pinned in `tests/benchmarks/requirements-awscli.txt`, into a venv of its own under
  `~/.cache/certops-aws-benchmarks/` (the CLI bundles its own botocore; outside the checkout, so that neither
  `ansible-galaxy collection build` nor ansible-test picks it up).
- It starts its own moto server on 127.0.0.1 and a free port, and a loopback proxy
  (`tools/loopback_proxy.py`) in front of it.
  Nothing listens or connects anywhere else. Credentials are the dummy `testing`; `AWS_CONFIG_FILE` and
  `AWS_SHARED_CREDENTIALS_FILE` point to `/dev/null`, so `~/.aws` is never read.
- Ansible runs ad hoc (sections 2 and 3) or as `ansible-playbook` (sections 4 and 6) with a temporary `ANSIBLE_HOME`
  and an empty `ansible.cfg`; the collection is this checkout through a temporary `ansible_collections/certops/aws`
  symlink; the floor module comes from `tests/benchmarks/library/` through `ANSIBLE_LIBRARY`. Section 6 also needs
  community.crypto, taken from the venv's `collections/` (`tools/harness.py`, `dependency_collections()`), and GNU
  time (`/usr/bin/time`).
- The benchmark is not a test: pytest does not collect `tests/benchmarks/`, and nothing fails on a figure. Run it on
  a quiet machine: other load shows in the load averages below and widens the min-to-max ranges.
"""


def _machine(results: dict[str, Any]) -> str:
    machine = results["machine"]
    packages = machine["packages"]
    load = results["load_average"]
    rows = [
        ["CPUs (nproc)", machine["nproc"]],
        ["CPU", machine["cpu"]],
        ["memory", f"{machine['memory_gib']} GiB"],
        ["OS", machine["os"]],
        ["Python", machine["python"]],
        *[[name, version] for name, version in packages.items()],
    ]
    if "fanout" in results:
        rows.append(["AWS CLI", results["fanout"]["awscli"]])
    rows += [
        ["load average (1, 5, 15 min) at start", ", ".join(f"{v:.2f}" for v in load["start"])],
        ["load average at end", ", ".join(f"{v:.2f}" for v in load["end"])],
    ]
    if "overhead" in results:
        rows.append(["others' CPU during section 2 (cores)", f"{results['overhead']['foreign_cores']:.2f}"])
    if "fleet" in results:
        point = fleet_point(results)
        rows.append(
            [f"others' CPU during section 4 at {point['users']} users (cores)", f"{point['foreign_cores']:.2f}"]
        )
    if "profile" in results:
        rows.append(["others' CPU during section 5 (cores)", f"{results['profile']['foreign_cores']:.2f}"])
    if "hosts" in results:
        largest = _host_sizes(results["hosts"])[-1]
        rows.append(
            [f"others' CPU during section 6 at {largest['hosts']} hosts (cores)", f"{largest['foreign_cores']:.2f}"]
        )
    return "## The machine\n\n" + table(["", ""], rows)


def _summary(results: dict[str, Any]) -> str:
    rows = []
    if "api_calls" in results:
        expected = sum(
            1
            for row in results["api_calls"]
            if row["lists"] == row["expected_lists"] and row["writes"] == row["expected_writes"]
        )
        rows.append(
            [
                "API calls: no-op = 1 list call per page and 0 writes; a change = that + 1 write; check mode = 0 "
                "writes; info for one user = 1 list call per page",
                f"{expected} of {len(results['api_calls'])} cases as expected",
                verdict(api_calls_ok(results)),
            ]
        )
    if "overhead" in results:
        ratio = results["overhead"]["median_pair_ratio"]
        pairs = results["overhead"]["runs"]
        rows += [
            [
                f"task time ≤ {TIME_TARGET:.2f}x the floor module",
                f"{x3(ratio['seconds'])} (median of {pairs} A/B pair ratios; 95 % interval "
                f"{interval(results, 'seconds')})",
                verdict(ratio["seconds"] <= TIME_TARGET),
            ],
            [
                f"task peak memory ≤ {MEMORY_TARGET:.2f}x the floor module",
                f"{x3(ratio['tree_maxrss_kb'])} (peak RSS of the process tree; 95 % interval "
                f"{interval(results, 'tree_maxrss_kb')})",
                verdict(ratio["tree_maxrss_kb"] <= MEMORY_TARGET),
            ],
        ]
    if "fanout" in results:
        point = fanout_point(results)
        gain = speedup(point)
        net, sequential = point["collection"]["net_seconds"], point["sequential"]["median_seconds"]
        rows.append(
            [
                f"all_users fan-out ≥ {FANOUT_TARGET:.0f}x the sequential loop, max_concurrency 8, "
                f"{point['users']} users",
                f"{x(gain)} ({s(net)} against {s(sequential)})",
                verdict(gain >= FANOUT_TARGET),
            ]
        )
    if "fleet" in results:
        fleet = results["fleet"]
        point = fleet_point(results)
        role = point["role"]
        bounded = role["peak_in_flight"] <= fleet["max_concurrency"]
        rows.append(
            [
                f"fleet rotation: {point['users']} users, one certificate due each, {fleet['latency_ms']:.0f} ms per "
                f"request, the whole `ansible-playbook` run ≤ {FLEET_TARGET:.0f} s (goal {FLEET_GOAL:.0f} s), "
                f"requests in flight bounded by {fleet['max_concurrency']}",
                f"{s(role['median_seconds'])} (median of {len(role['runs'])} runs, {span(_seconds(role), s)}); "
                f"{role['requests']} requests, at most {role['peak_in_flight']} in flight",
                f"{verdict(role['median_seconds'] <= FLEET_TARGET and bounded)}; goal "
                f"{verdict(role['median_seconds'] <= FLEET_GOAL)}",
            ]
        )
    if "second_rotation" in results:
        second = results["second_rotation"]
        rows.append(
            [
                f"the second rotation of {second['users']} users in an account of {second['account_users']} users "
                f"(room to make: each holds two certificates) ≤ {second['target_ratio']:.1f}x the first",
                f"{x(second['ratio'])} ({s(second['second_median_seconds'])} against "
                f"{s(second['first_median_seconds'])}, medians of {second['repeats']})",
                verdict(second["ratio"] <= second["target_ratio"]),
            ]
        )
    if "hosts" in results:
        rows += host_targets(results)
    return "## Against the targets\n\n" + table(["target", "measured", "verdict"], rows)


def _second_rotation(results: dict[str, Any]) -> str:
    second = results["second_rotation"]

    def actions(run: dict[str, Any]) -> str:
        return ", ".join(f"{name} {count}" for name, count in sorted(run["actions"].items()))

    rows = [
        [
            f"run {number}",
            s(run["first"]["seconds"]),
            f"{run['first']['requests']} ({actions(run['first'])})",
            s(run["second"]["seconds"]),
            f"{run['second']['requests']} ({actions(run['second'])})",
        ]
        for number, run in enumerate(second["runs"], start=1)
    ]
    return f"""## 4b. The second rotation in a large account

An account of {second["account_users"]} users; the first {second["users"]} hold one active certificate due in
{second["old_days"]} days. The collection's playbook rotates those {second["users"]} users twice, every request through
the loopback proxy with {second["latency_ms"]:.0f} ms added: first to a new certificate (the old one deactivated), then,
forced, to another (each user now holds two certificates, so the inactive one is deleted to make room). The rotation
no longer lists every user of the account before it deletes to make room (an expired certificate cannot be needed, and
a valid one is uploaded again if the upload fails); it did before issue 19: 3,351 calls and 49 s against 400 calls and
9.4 s for the first, in an account of 2,850. Source: `tests/benchmarks/second_rotation.py`.

Second against first: **{x(second["ratio"])}** (medians {s(second["second_median_seconds"])} and
{s(second["first_median_seconds"])}; target ≤ {second["target_ratio"]:.1f}x).

{table(["", "first: seconds", "first: requests", "second: seconds", "second: requests"], rows)}"""


def _api_calls(results: dict[str, Any]) -> str:
    rows = []
    for row in results["api_calls"]:
        ok = row["lists"] == row["expected_lists"] and row["writes"] == row["expected_writes"] and not row["failed"]
        rows.append(
            [
                row["module"],
                row["case"] + (" (check mode)" if row["check_mode"] else ""),
                row["pages"],
                row["lists"],
                row["writes"],
                f"{row['expected_lists']} / {row['expected_writes']}",
                "yes" if ok else "**no**",
                ", ".join(row["calls"]),
                row["note"],
            ]
        )
    return (
        """
## 1. API calls per task

Each module's `main()` runs in-process against moto (`mock_aws`), with a counter on
`botocore.client.BaseClient._make_api_call`; the calls that set the scene are not counted. moto answers every listing
in one page, so the cases with 2 pages put a pager in front of it that answers `ListSigningCertificates` one
certificate per page, with `IsTruncated` and `Marker` as IAM does. The unit tests assert the same counts.
"""
        + "\n"
        + table(
            [
                "module",
                "case",
                "pages",
                "list calls",
                "writes",
                "expected (lists / writes)",
                "as expected",
                "calls, in order",
                "note",
            ],
            rows,
        )
    )


def _overhead(results: dict[str, Any]) -> str:
    over = results["overhead"]
    collection, floor, ratio = over["collection"], over["floor"], over["median_pair_ratio"]

    def row(label: str, key: str, unit: Any) -> list[str]:
        a, b = collection[f"median_{key}"], floor[f"median_{key}"]
        return [
            label,
            f"{unit(a)} ({span(collection[key], unit)})",
            f"{unit(b)} ({span(floor[key], unit)})",
            f"**{x3(ratio[key])}**",
            interval(results, key),
            x3(a / b),
        ]

    rows = [
        row("wall time of the ad-hoc command", "seconds", s),
        row("CPU time of its process tree (user + system)", "cpu_seconds", s),
        row("peak RSS of its process tree", "tree_maxrss_kb", mb),
    ]
    module_text = ""
    if collection["module_seconds"]:
        rows += [
            row("the module's process alone: wall time (GNU time, 10 ms steps)", "module_seconds", s),
            row("the module's process alone: peak RSS", "module_maxrss_kb", mb),
        ]
        module_text = (
            f" The module's own process, alone, takes {x3(ratio['module_seconds'])} the floor's time and "
            f"{x3(ratio['module_maxrss_kb'])} its peak memory: the targets are on the task, where Ansible's share "
            "dilutes this, but section 5 shows where the difference is."
        )
    time_ok = ratio["seconds"] <= TIME_TARGET
    memory_ok = ratio["tree_maxrss_kb"] <= MEMORY_TARGET
    if not collection["median_module_maxrss_kb"]:
        largest = "not known: without GNU time the module's process is not measured alone"
    elif collection["median_module_maxrss_kb"] >= 0.99 * collection["median_tree_maxrss_kb"]:
        largest = "the module's own process"
    else:
        largest = "Ansible's controller"
    module_share = (
        f" The module's process is {s(collection['median_module_seconds'])} of it with the collection and "
        f"{s(floor['median_module_seconds'])} with the floor; the rest is Ansible: start-up, inventory, the worker, "
        "packing and copying the module (AnsiballZ), reading its answer."
        if collection["median_module_seconds"]
        else ""
    )
    return f"""
## 2. Task overhead against the floor

`ansible localhost -m {INFO} -a user_name=alice` (user with one certificate) against
`ansible localhost -m floor_signing_certificates -a user_name=alice`, where the floor
(`tests/benchmarks/library/floor_signing_certificates.py`) is the least a module can do for the same answer: it builds
a boto3 IAM client and makes one `ListSigningCertificates` call, nothing else. Both run ad hoc against the same moto
server (no added latency), alternated A/B then B/A for {over["runs"]} pairs after one warm-up each; medians, with
the min-to-max range, and the median of the {over["runs"]} per-pair ratios. Wall and CPU time and the tree's peak RSS
come from `os.wait4` on the `ansible` process, started from a small launcher (`tests/benchmarks/meter.py`, see the
notes); the module's own process is measured by running it under GNU time (as `ansible_python_interpreter`).

{
        table(
            [
                "",
                "collection (min to max)",
                "floor (min to max)",
                "median pair ratio",
                "its 95 % interval",
                "ratio of medians",
            ],
            rows,
        )
    }

Single pairs differ a lot on this machine (see the ranges), so each median pair ratio comes with a distribution-free
95 % confidence interval (order statistics of the {over["runs"]} pair ratios).

**Reading.** Time: {x3(ratio["seconds"])} the floor, target ≤ {TIME_TARGET:.2f}x:
{verdict(time_ok)}.{uncertainty(results, "seconds", TIME_TARGET)} The command takes {s(collection["median_seconds"])}
against {s(floor["median_seconds"])}.{module_share}
Memory: {x3(ratio["tree_maxrss_kb"])}, target ≤ {MEMORY_TARGET:.2f}x:
{verdict(memory_ok)}.{uncertainty(results, "tree_maxrss_kb", MEMORY_TARGET)} The tree's peak RSS is that of its
largest process, here {largest}.{module_text}
"""


def _per_request_cpu(collection: dict[str, Any], users: int) -> tuple[float, float]:
    """(Ansible-side, emulator) CPU milliseconds per user of an all_users run, beyond the one-user task."""
    all_runs, one_runs = collection["all_users"], collection["one_user"]
    emulator = median([run["emulator_cpu_seconds"] for run in all_runs]) / collection["requests"] * 1000
    extra = median([run["cpu_seconds"] for run in all_runs]) - median([run["cpu_seconds"] for run in one_runs])
    return extra / users * 1000, emulator


def _range(runs: list[dict[str, Any]]) -> str:
    return span([run["seconds"] for run in runs], s)


def _fanout(results: dict[str, Any], chart_link: str) -> str:
    fanout = results["fanout"]
    latency = fanout["latency_ms"]
    entries = sorted(fanout["sizes"].values(), key=lambda entry: entry["users"])
    rows = []
    for entry in entries:
        collection, sequential = entry["collection"], entry["sequential"]["median_seconds"]
        cli = entry.get("awscli")
        rows.append(
            [
                entry["users"],
                f"{s(collection['median_all_users_seconds'])} ({_range(collection['all_users'])})",
                f"{s(collection['median_one_user_seconds'])} ({_range(collection['one_user'])})",
                f"**{s(collection['net_seconds'])}**",
                s(sequential),
                f"**{x(speedup(entry))}**",
                s(sequential / 8),
                s(cli["seconds"]) if cli else "not run",
                x(cli["seconds"] / collection["median_all_users_seconds"]) if cli else "",
                len(collection["all_users"]),
                f"{collection['requests']} ({collection['replayed']} replayed)",
                collection["peak_in_flight"],
                f"{collection['foreign_cores']:.2f}",
            ]
        )
    point = fanout_point(results)
    users = point["users"]
    collection = point["collection"]
    sweep_rows = [
        [
            run["concurrency"],
            run["runs"],
            s(run["net_seconds"]),
            x(point["sequential"]["median_seconds"] / run["net_seconds"]),
            s(users * latency / 1000 / run["concurrency"]),
            run["peak_in_flight"],
            f"{run['foreign_cores']:.2f}" if "foreign_cores" in run else "",
        ]
        for run in sorted(
            [
                *point.get("sweep", []),
                {
                    "concurrency": 8,
                    "runs": len(collection["all_users"]),
                    "net_seconds": collection["net_seconds"],
                    "peak_in_flight": collection["peak_in_flight"],
                    "foreign_cores": collection["foreign_cores"],
                },
            ],
            key=lambda run: run["concurrency"],
        )
    ]
    ansible_ms, emulator_ms = _per_request_cpu(collection, users)
    modes = [
        [
            f"replayed after a warm-up (the rows above, {', '.join(fanout['replay_actions'])})",
            s(collection["net_seconds"]),
            s(point["sequential"]["median_seconds"]),
            f"**{x(speedup(point))}**",
            ms(ansible_ms),
            ms(emulator_ms),
            f"{collection['foreign_cores']:.2f}",
        ]
    ]
    plain = point.get("without_replay")
    if plain:
        plain_ansible_ms, plain_emulator_ms = _per_request_cpu(plain["collection"], users)
        plain_gain = plain["sequential"]["median_seconds"] / plain["collection"]["net_seconds"]
        modes.append(
            [
                "computed by moto for every request",
                s(plain["collection"]["net_seconds"]),
                s(plain["sequential"]["median_seconds"]),
                f"**{x(plain_gain)}**",
                ms(plain_ansible_ms),
                ms(plain_emulator_ms),
                f"{plain['collection']['foreign_cores']:.2f}",
            ]
        )
    bound = users * latency / 1000 / 8
    gain = speedup(point)
    attempts = collection.get("attempts", [])
    noise_text = ""
    if len(attempts) > 1:
        tried = "; ".join(f"net {s(a['net_seconds'])} with {a['foreign_cores']:.2f} cores" for a in attempts)
        noise_text += (
            f" Other processes kept more than {QUIET_CORES} cores busy while {users} users were measured, so the "
            f"point was measured {len(attempts)} times ({tried}) and the quietest is reported."
        )
    loaded = [
        label
        for label, load in (
            ("the replayed runs", collection["foreign_cores"]),
            ("the runs without replay", (plain or {}).get("collection", {}).get("foreign_cores", 0.0)),
            *[(f"max_concurrency {r['concurrency']}", r.get("foreign_cores", 0.0)) for r in point.get("sweep", [])],
        )
        if load > QUIET_CORES
    ]
    if loaded:
        noise_text += (
            f" Other processes used more than {QUIET_CORES} cores during {', '.join(loaded)} (see the load columns): "
            "those figures are slower than this machine can do, and comparisons with them are uncertain."
        )
    beyond = [run for run in point.get("sweep", []) if run["concurrency"] > 8]
    if beyond:
        gains = {run["concurrency"]: point["sequential"]["median_seconds"] / run["net_seconds"] for run in beyond}
        listed = ", ".join(f"{x(gain)} at {concurrency}" for concurrency, gain in gains.items())
        if any(gain > concurrency for concurrency, gain in gains.items()):
            comment = (
                "more than the worker count, which no real fan-out can reach: below a second the net time is within "
                "the variance of Ansible's start-up that the subtraction carries, so these points say only that the "
                "fan-out stays close to the round trips alone"
            )
        elif all(gain < 0.8 * concurrency for concurrency, gain in gains.items()):
            comment = "short of the worker count: the CPU per user above, not the latency, becomes the limit"
        else:
            comment = "close to the worker count: the fan-out is still bound by the latency"
        beyond_text = f" More workers give {listed}: {comment}."
    else:
        beyond_text = ""
    cli_entries = [entry for entry in entries if "awscli" in entry]
    if cli_entries:
        per_user = [(e["awscli"]["seconds"] - e["sequential"]["median_seconds"]) / e["users"] for e in cli_entries]
        not_run = [entry["users"] for entry in entries if "awscli" not in entry]
        cli_per_user = cli_entries[-1]["awscli"]["seconds"] / cli_entries[-1]["users"]
        cli_text = (
            f"The AWS CLI, one process per user as a shell loop would run it, pays its own start-up for every user: "
            f"about {s(sum(per_user) / len(per_user))} per user on top of the request"
            + (
                f". It was run at {', '.join(str(e['users']) for e in cli_entries)} users only; at "
                f"{', '.join(map(str, not_run))} users it would take about "
                f"{', '.join(s(n * cli_per_user) for n in not_run)}"
                " (an estimate from the largest measured size, not a measurement), too long for this benchmark."
                if not_run
                else "."
            )
        )
    elif fanout["awscli_available"]:
        cli_text = "The AWS CLI was not run (no `--cli-sizes`)."
    else:
        cli_text = f"The AWS CLI could not be used: {fanout['awscli']}."
    plain_text = ""
    if plain:
        plain_text = (
            f" When moto computes every answer, its {ms(plain_emulator_ms)} of CPU per request runs on the same "
            f"{results['machine']['nproc']} cores as the module and Ansible, and the speed-up is {x(plain_gain)} "
            f"({verdict(plain_gain >= FANOUT_TARGET)} against the target): that share is the emulator's, which "
            "real IAM spends on its own servers inside the round trip, so the replayed figure is the one the target "
            "is judged on."
        )
    return f"""
## 3. Fan-out: `all_users` over many users

Users `user0000`… with one certificate each. Every request goes through the loopback proxy
(`tools/loopback_proxy.py`), which
adds {latency:.0f} ms to each one, standing in for the round trip to IAM. The proxy answers the read-only listings
({", ".join(fanout["replay_actions"])}) from a record made in a warm-up pass at each size: moto computes each answer
once, and the CPU it needs per request (which IAM spends on its own servers, inside the round trip) is not taken from
the cores the module and Ansible run on. The table after the chart shows the target size without replay too. Three
ways of doing the same work (list the users, then each user's certificates):

- the collection, ad hoc: `ansible localhost -m {INFO} -a all_users=true` at the default `max_concurrency` (8). Its
  fan-out time is net of Ansible's start-up: the median time of that task minus the median time of the same task for
  one user, also through the proxy, the two alternated ({fanout["repeats"]} of each per size,
  {fanout["target_repeats"]} at {fanout["target_size"]} users);
- a sequential boto3 loop in the benchmark's own process (client made before the clock starts), run
  {fanout["repeats"]} time(s) per size up to {fanout["target_size"]} users and once above;
- `aws iam list-users` then `aws iam list-signing-certificates --user-name U` per user, with AWS CLI v1.

"Others' load" is the CPU that other processes on the machine used meanwhile, in cores (from `/proc/stat`, less this
benchmark's own processes): it competes for the same cores and slows the concurrent runs most.

{
        table(
            [
                "users",
                "all_users task (min to max)",
                "one-user task (min to max)",
                "net fan-out (c=8)",
                "sequential loop",
                "speed-up",
                "sequential / 8",
                "AWS CLI per user",
                "CLI / whole all_users task",
                "runs",
                "requests",
                "peak in flight",
                "others' load",
            ],
            rows,
        )
    }

![time against users, and speed-up against max_concurrency]({chart_link})

At {users} users, by max_concurrency (8 from the table above; each run paired with a one-user run, as there):

{
        table(
            ["max_concurrency", "runs", "net", "speed-up", "round trips alone", "peak in flight", "others' load"],
            sweep_rows,
        )
    }

At {users} users, with and without replay (CPU per user beyond the one-user task: Ansible's side is the module and
the controller, the emulator's is moto and the proxy):

{
        table(
            [
                "answers",
                "net fan-out (c=8)",
                "sequential loop",
                "speed-up",
                "Ansible CPU per user",
                "emulator CPU per request",
                "others' load",
            ],
            modes,
        )
    }

**Reading.** At {users} users the collection's fan-out is {x(gain)} faster than the sequential loop, target
≥ {FANOUT_TARGET:.0f}x at max_concurrency 8: {verdict(gain >= FANOUT_TARGET)}. The proxy never saw more than
{collection["peak_in_flight"]} requests in flight at the default, so the bound holds and the botocore pool is large
enough. With 8 requests in flight the round trips alone take {s(bound)} for {users} users; the rest of the net time
is the single `ListUsers` call, CPU work around the waits (about {ms(ansible_ms)} per user on Ansible's side: signing
each request, parsing the answer and the certificate, the result's JSON through the controller), and the variance of
Ansible's start-up, which the subtraction carries over (see the ranges).{plain_text}{beyond_text}{noise_text}
{cli_text}

moto returns every user in one `ListUsers` page; IAM pages them by 100 (by default), so against IAM the listing adds
one round trip per 100 users before the fan-out starts.
"""


def _seconds(summary: dict[str, Any]) -> list[float]:
    return [run["seconds"] for run in summary["runs"]]


def _emulator_floor(summary: dict[str, Any]) -> float:
    """Seconds of CPU moto and the proxy needed for a run's requests: they share one Python process (one GIL), so
    the requests cannot all be answered in less, whatever the concurrency."""
    return summary["emulator_cpu_ms_per_request"] * summary["requests"] / 1000


def _phase(summary: dict[str, Any], name: str) -> float:
    return sum(phase["seconds"] for phase in summary["median_phases"] if phase["phase"] == name)


FLEET_GROUPS = (
    ("Ansible start-up", "tab:gray"),
    ("tasks before the rotation", "tab:olive"),
    ("rotation task: until the module's process starts", "tab:pink"),
    ("rotation task: the module's start, until its first request", "tab:purple"),
    ("rotation task: the requests", "tab:blue"),
    ("rotation task: after the last request", "tab:cyan"),
    ("report, one debug line per user", "tab:orange"),
    ("other tasks and exit", "tab:brown"),
)


def fleet_groups(summary: dict[str, Any]) -> dict[str, float]:
    """The role's run in the chart's groups (median of each phase, so the sum is close to, not exactly, the median
    of the whole run)."""
    from tests.benchmarks import fleet

    groups = dict.fromkeys((name for name, _color in FLEET_GROUPS), 0.0)
    seen_rotation = False
    for phase in summary["median_phases"]:
        name, seconds = phase["phase"], phase["seconds"]
        if name == fleet.STARTUP:
            group = "Ansible start-up"
        elif name in (fleet.BEFORE_REQUESTS, fleet.BEFORE_MODULE):
            # Without the module's start (no bash for the wrapper), the whole wait counts as the module's start.
            group = "rotation task: until the module's process starts"
            if name == fleet.BEFORE_REQUESTS:
                group = "rotation task: the module's start, until its first request"
            seen_rotation = True
        elif name == fleet.MODULE_START:
            group = "rotation task: the module's start, until its first request"
        elif name == fleet.REQUESTS:
            group = "rotation task: the requests"
        elif name == fleet.AFTER_REQUESTS:
            group = "rotation task: after the last request"
        elif phase["action"] == "ansible.builtin.debug" and seen_rotation:
            group = "report, one debug line per user"
        elif not seen_rotation:
            group = "tasks before the rotation"
        else:
            group = "other tasks and exit"
        groups[group] += seconds
    return groups


def fleet_chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fleet = results["fleet"]
    entries = sorted(fleet["sizes"].values(), key=lambda entry: entry["users"])
    users = [entry["users"] for entry in entries]
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 6), gridspec_kw={"width_ratios": [3, 2]})

    def line(values: list[float], label: str, annotate: bool = True, **style: Any) -> None:
        left.plot(users, values, label=label, **style)
        if annotate:
            for x_value, y_value in zip(users, values, strict=True):
                left.annotate(
                    f"{y_value:.1f}", (x_value, y_value), textcoords="offset points", xytext=(4, 4), fontsize=8
                )

    line(
        [e["role"]["median_seconds"] for e in entries], "role: whole ansible-playbook run", marker="o", color="tab:blue"
    )
    line(
        [e["role"]["median_request_span"] for e in entries],
        "role: its requests, first to last",
        marker="o",
        linestyle=":",
        color="tab:blue",
        alpha=0.7,
    )
    line([e["script"]["median_seconds"] for e in entries], "boto3 script: whole process", marker="s", color="tab:red")
    line(
        [e["script"]["median_calls_seconds"] for e in entries],
        "boto3 script: its calls alone",
        annotate=False,
        marker="s",
        linestyle=":",
        color="tab:red",
        alpha=0.7,
    )
    line(
        [e["round_trips_seconds"] for e in entries],
        f"round trips alone (requests x {fleet['latency_ms']:.0f} ms / {fleet['max_concurrency']})",
        annotate=False,
        linestyle="--",
        color="gray",
    )
    line(
        [_emulator_floor(e["role"]) for e in entries],
        "emulator CPU for the role's requests (moto + proxy, one process)",
        annotate=False,
        linestyle="-.",
        color="tab:green",
    )
    target = fleet["target_size"]
    left.plot([target], [fleet["target_seconds"]], marker="v", color="tab:orange", linestyle="none", markersize=10)
    left.plot([target], [fleet["goal_seconds"]], marker="v", color="tab:olive", linestyle="none", markersize=10)
    for seconds, label in ((fleet["target_seconds"], "target"), (fleet["goal_seconds"], "goal")):
        left.annotate(
            f"{label} at {target} users: {seconds:.0f} s",
            (target, seconds),
            textcoords="offset points",
            xytext=(9, 0),
            ha="left",
            va="center",
            fontsize=8,
        )
    left.set_xlabel("IAM users, one certificate due each")
    left.set_ylabel("seconds")
    left.set_xticks(users)
    left.set_ylim(bottom=0)
    left.set_title(
        f"Rotating every user, {fleet['latency_ms']:.0f} ms added per request, {fleet['max_concurrency']} in flight"
    )
    left.grid(True, alpha=0.3)
    left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=1)

    groups = [fleet_groups(entry["role"]) for entry in entries]
    positions = list(range(len(entries)))
    bottoms = [0.0] * len(entries)
    for name, color in FLEET_GROUPS:
        values = [group[name] for group in groups]
        right.bar(positions, values, bottom=bottoms, color=color, label=name, width=0.6)
        bottoms = [bottom + value for bottom, value in zip(bottoms, values, strict=True)]
    right.set_xticks(positions, [f"{n} users" for n in users])
    right.set_ylabel("seconds (median of each phase)")
    right.set_title("Where the role's run goes")
    right.grid(True, axis="y", alpha=0.3)
    right.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)


def _fleet(results: dict[str, Any], chart_link: str) -> str:
    fleet = results["fleet"]
    latency = fleet["latency_ms"]
    bound = fleet["max_concurrency"]
    entries = sorted(fleet["sizes"].values(), key=lambda entry: entry["users"])
    rows = []
    for entry in entries:
        role, script = entry["role"], entry["script"]
        rows.append(
            [
                entry["users"],
                f"**{s(role['median_seconds'])}** ({span(_seconds(role), s)})",
                s(role["median_request_span"]),
                f"{s(script['median_seconds'])} ({span(_seconds(script), s)})",
                s(script["median_calls_seconds"]),
                x(role["median_seconds"] / script["median_seconds"]),
                s(entry["round_trips_seconds"]),
                s(_emulator_floor(role)),
                f"{role['requests']} / {script['requests']}",
                "yes" if role["actions_as_expected"] and script["actions_as_expected"] else "**no**",
                f"{role['peak_in_flight']} / {script['peak_in_flight']}",
                len(role["runs"]),
                f"{entry['foreign_cores']:.2f}",
            ]
        )
    cpu_rows = [
        [
            entry["users"],
            s(entry["role"]["median_cpu_seconds"]),
            s(entry["script"]["median_cpu_seconds"]),
            ms(entry["role"]["emulator_cpu_ms_per_request"]),
            ms(entry["role"]["median_mean_request_ms"]),
            ms(entry["script"]["median_mean_request_ms"]),
        ]
        for entry in entries
    ]
    names = [phase["phase"] for phase in entries[-1]["role"]["median_phases"]]
    phase_rows = [[name, *[s(_phase(entry["role"], name)) for entry in entries]] for name in names] + [
        ["**whole run (median)**", *[f"**{s(entry['role']['median_seconds'])}**" for entry in entries]]
    ]

    point = fleet["sizes"][str(fleet["target_size"])]
    users, role, script = point["users"], point["role"], point["script"]
    met = role["median_seconds"] <= fleet["target_seconds"] and role["peak_in_flight"] <= bound
    goal = role["median_seconds"] <= fleet["goal_seconds"]
    groups = fleet_groups(role)
    rotation_task = sum(seconds for name, seconds in groups.items() if name.startswith("rotation task"))
    first, last = entries[0], entries[-1]
    growth_text = ""
    if last["users"] > first["users"]:
        extra = last["users"] - first["users"]
        first_groups, last_groups = fleet_groups(first["role"]), fleet_groups(last["role"])
        per_user = {name: (last_groups[name] - first_groups[name]) / extra * 1000 for name, _color in FLEET_GROUPS}
        grows = sorted(((value, name) for name, value in per_user.items() if value >= 1), reverse=True)
        role_slope = (last["role"]["median_seconds"] - first["role"]["median_seconds"]) / extra * 1000
        script_slope = (last["script"]["median_seconds"] - first["script"]["median_seconds"]) / extra * 1000
        growth_text = (
            f" From {first['users']} to {last['users']} users the role's run grows by {ms(role_slope)} per user, the "
            f"script's by {ms(script_slope)} (the round trips alone: {ms(4 * latency / bound)} per user)."
        )
        if role_slope > 0 and grows:
            growth_text += " Per user, the role's run grows in " + ", ".join(f"{name} ({ms(v)})" for v, name in grows)
            growth_text += "."
    # With `bound` requests always in flight, the requests take (requests x time each in the proxy) / bound: the
    # closer the measured span to that, the better the module keeps its slots busy.
    busy = role["requests"] * role["median_mean_request_ms"] / 1000 / bound
    busy_text = (
        f" The module's {role['requests']} requests spent {ms(role['median_mean_request_ms'])} each in the proxy "
        f"({latency:.0f} ms of added latency, the rest moto's work and the wait for a core); kept {bound} in flight "
        f"all the time, they would take {s(busy)}, and they took {s(role['median_request_span'])}: "
        + (
            f"the module keeps its {bound} slots busy, and the requests are as fast as this emulator answers them "
            "(the script's are no faster)."
            if role["median_request_span"] <= 1.15 * busy
            else f"about {s(role['median_request_span'] - busy)} of it the slots were not all busy (the module's "
            "own work between requests, or the wait between reading every user and writing)."
        )
    )
    report_ms = groups["report, one debug line per user"] / users * 1000
    controller = groups["rotation task: until the module's process starts"]
    module_start = groups["rotation task: the module's start, until its first request"]
    costs_text = (
        f"Beyond its requests the role's run is Ansible's work: start-up ({s(groups['Ansible start-up'])}), the small "
        f"tasks of the play and the role ({s(groups['tasks before the rotation'] + groups['other tasks and exit'])} "
        f"with the exit), the controller's part of the rotation task until the module's process starts "
        f"({s(controller)}: templating its arguments, which reads every certificate file, and packing the module), "
        f"the module's start until its first request ({s(module_start)}: Python, importing boto3 and cryptography, "
        "checking the arguments and parsing every new certificate, building the client), and the per-user report, "
        f"a `debug` task looping over the users, at about {ms(report_ms)} per user."
    )
    loaded = [str(entry["users"]) for entry in entries if entry["foreign_cores"] > QUIET_CORES]
    attempts = point.get("attempts", [])
    noise_text = ""
    if len(attempts) > 1:
        tried = "; ".join(
            f"role {s(a['role_median_seconds'])}, script {s(a['script_median_seconds'])} with "
            f"{a['foreign_cores']:.2f} cores"
            for a in attempts
        )
        noise_text += (
            f" Other processes kept more than {QUIET_CORES} cores busy while {users} users were measured, so that size "
            f"was measured {len(attempts)} times ({tried}) and the quietest is reported."
        )
    if loaded:
        noise_text += (
            f" Others' load was above {QUIET_CORES} cores at {', '.join(loaded)} users (last column of the first "
            f"table): on {results['machine']['nproc']} cores, those figures are slower than a quiet machine gives, "
            "the role's more than the script's, since it needs more CPU."
        )
    return f"""
## 4. Fleet rotation: many users through the role

Users `user0000`… each hold one active certificate that expires in {fleet["old_days"]} days, so under the role's
default threshold ({fleet["threshold_days"]} days) every user is due; each is rotated to a new certificate valid for
{fleet["new_days"]} days. Every request goes through the loopback proxy, which adds {latency:.0f} ms to each one. Two
ways of doing the same rotation, alternated ({fleet["repeats"]} run(s) of each per size, {fleet["target_repeats"]} at
{fleet["target_size"]} users), every run on freshly seeded users (the emulator emptied, the users and their old
certificates written straight to moto, not timed), and every run checked afterwards by reading each user back from
moto (the new certificate active, the old one inactive):

- **the role, as a user runs it**: `ansible-playbook {fleet["playbook"]} -e @rotations.json`, the collection's
  rotation playbook run by its name as the guides say, with `rotations:` listing `user` and a relative
  `certificate_file` per user and `iam_endpoint_url` the proxy. It includes the role
  `certops.aws.signing_certificate_rotation` with the list form, whose one task runs the module
  `certops.aws.iam_signing_certificate_rotation` for every user at the default `max_concurrency` ({bound}), then
  prints one line per user. Timed whole, from the command's start to its exit;
- **a concurrent boto3 script** (`tests/benchmarks/fleet_script.py`), {bound} users at a time, making the same calls
  per user: `ListSigningCertificates`, `UploadSigningCertificate`, `ListSigningCertificates` (is the new one listed
  as active?), `UpdateSigningCertificate` (the old one to `Inactive`). It does nothing else: no parsing, no expiry
  or validity check, no quota or ownership rules, no per-user report. Timed whole as its own Python process, and for
  its calls alone (the client made first).

The proxy replays nothing here: every listing but a user's first comes after a write to that user, so a recorded
answer would be stale (the module's verification would fail, or pass on old data). moto computes every answer, and
moto and the proxy run in the benchmark's own Python process, on the same {results["machine"]["nproc"]} cores as
Ansible and the module. "Emulator floor" below is the CPU they needed for the role's requests: one process, one
GIL, so those requests cannot all be answered in less time, whatever the concurrency. "Round trips alone" is the
requests times {latency:.0f} ms over {bound} in flight. The run is split in phases with a timing callback
(`tests/benchmarks/callback_plugins/certops_bench_timing.py`, enabled next to the default output), a two-line bash
wrapper given as `ansible_python_interpreter` that notes when the module's process starts and execs the venv's
Python, and the proxy's log of requests. Runs without `nice`.

{
        table(
            [
                "users",
                "role: whole ansible-playbook run (min to max)",
                "role: its requests, first to last",
                "script: whole process (min to max)",
                "script: its calls alone",
                "role / script",
                "round trips alone",
                "emulator floor",
                "requests (role / script)",
                "4 per user, as expected",
                "peak in flight (role / script)",
                "runs of each",
                "others' load",
            ],
            rows,
        )
    }

![rotation time against users, and where the role's run goes]({chart_link})

Where the role's run goes (median of each phase over the runs, so the phases add up to about, not exactly, the
median of the whole run):

{table(["phase", *[f"{entry['users']} users" for entry in entries]], phase_rows)}

CPU (user + system) of each process tree, and the time a request spent in the proxy (the {latency:.0f} ms included,
so the rest is moto's work and the wait for a core):

{
        table(
            [
                "users",
                "role: CPU of ansible-playbook and its children",
                "script: CPU",
                "emulator CPU per request (role's runs)",
                "time in the proxy per request, role",
                "time in the proxy per request, script",
            ],
            cpu_rows,
        )
    }

**Reading.** At {users} users the whole `ansible-playbook` run takes {s(role["median_seconds"])} (median), target
≤ {fleet["target_seconds"]:.0f} s with at most {bound} requests in flight: {verdict(met)}; goal
≤ {fleet["goal_seconds"]:.0f} s: {verdict(goal)}. The proxy saw at most {role["peak_in_flight"]} requests in flight,
and {role["requests"]} requests in all, 4 per user (read, upload, verify, retire): nothing needed room made, so neither
a delete nor the account-wide owner scan was made. Of the run, {s(groups["Ansible start-up"])} is Ansible's start-up,
{s(rotation_task)} the rotation task (its requests {s(role["median_request_span"])}, against
{s(point["round_trips_seconds"])} for the round trips alone and an emulator floor of {s(_emulator_floor(role))}), and
{s(groups["report, one debug line per user"])} the per-user report. The concurrent script takes
{s(script["median_seconds"])} as a process, {s(script["median_calls_seconds"])} for its calls.{busy_text}{growth_text}
{costs_text}{noise_text}

moto lists an upload at once, so every verification here succeeded on its first look. IAM is eventually consistent:
against it a verification may need a second look, `verify_delay` seconds later (3 by default), for some users.
"""


def _profile(results: dict[str, Any]) -> str:
    profile = results["profile"]
    phases = profile["phases"]
    collection = {step["step"]: step for step in phases["collection"]}
    floor = {step["step"]: step for step in phases["floor"]}
    rows = []
    for name in [step["step"] for step in phases["collection"]]:
        c, f = collection[name], floor.get(name, {})
        delta = c["ms"] - f["ms"] if c.get("ms") is not None and f.get("ms") is not None else None
        rows.append(
            [
                name,
                ms(c["ms"]),
                ms(f.get("ms")),
                "" if delta is None else f"{delta:+.1f} ms",
                f"{ms(c.get('iqr_ms'))} / {ms(f.get('iqr_ms'))}" if c.get("iqr_ms") is not None else "",
                mb(c["peak_rss_kb"]),
                mb(f.get("peak_rss_kb")),
            ]
        )
    rows.append(
        [
            "**total**",
            ms(phases["collection_total_ms"]),
            ms(phases["floor_total_ms"]),
            f"{phases['collection_total_ms'] - phases['floor_total_ms']:+.1f} ms",
            "",
            "",
            "",
        ]
    )
    imports = profile["imports"]["entries"]
    import_rows = [["&nbsp;&nbsp;" * entry["depth"] + f"`{entry['name']}`", ms(entry["ms"])] for entry in imports]
    by_name = {entry["name"]: entry["ms"] for entry in imports}
    crypto = by_name.get("cryptography.x509")
    info_module = "ansible_collections.certops.aws.plugins.modules.iam_signing_certificate_info"
    rss_delta = collection["imports"]["peak_rss_kb"] - floor["imports"]["peak_rss_kb"]
    ratio = results.get("overhead", {}).get("median_pair_ratio")
    if ratio is None:
        change_text = "The task overhead (section 2) was not measured, so there is no target to read this against."
    elif ratio["seconds"] <= TIME_TARGET and ratio["tree_maxrss_kb"] <= MEMORY_TARGET:
        change_text = "The task-overhead targets are met, so nothing here calls for a change in the modules."
    else:
        change_text = (
            "A task-overhead target is missed: the steps above with the largest differences are where a change in "
            "the modules would help; measure a candidate on a copy with `--collection` and compare with `--baseline`."
        )
    call = "ListSigningCertificates call"
    first = profile.get("first_call")
    call_text = ""
    if first and collection.get(call, {}).get("ms") is not None and floor.get(call, {}).get("ms") is not None:
        call_text = (
            f" The listing call takes {ms(collection[call]['ms'] - floor[call]['ms'])} more than the floor's because "
            "the collection lists through a botocore paginator (it must follow `Marker` over pages), and the first "
            f"paginator of a process loads its model: in fresh processes the first call through a paginator takes "
            f"{ms(first['paginator']['first_ms'])} against {ms(first['direct']['first_ms'])} for a direct call "
            f"(the second: {ms(first['paginator']['second_ms'])} and {ms(first['direct']['second_ms'])})."
        )
    text = f"""
## 5. Profile: where the module's process spends time and memory

Each module's real `main()` in a fresh process ({phases["repeats"]} per module, alternated), against the moto server
without added latency; steps are marked by wrapping the library calls both modules make (`AnsibleModule.__init__`,
botocore's `create_client` and `_make_api_call`, `exit_json`). Medians; the peak RSS is the process's after the step.

{
        table(
            [
                "step",
                "collection",
                "floor",
                "difference",
                "spread of single runs (IQR, collection / floor)",
                "collection peak RSS",
                "floor peak RSS",
            ],
            rows,
        )
    }

A difference smaller than the spread of single runs is noise: the step times move with the machine from one process
to the next, which is why the import cost is also measured on its own below.

Import time, `python -X importtime`, the floor's imports first so the collection module's line is only what it adds
(cumulative, median of {profile["imports"]["repeats"]} processes; entries under 1 ms left out):

{table(["import", "cumulative"], import_rows)}

**Reading.** The collection's module process does the same work as the floor plus what makes it useful: it checks its
options, pages the listing, and parses each certificate. It adds {ms(by_name.get(info_module))} of imports, of which
`cryptography.x509` is {ms(crypto)}, and {mb(rss_delta)} of peak RSS at import, which it keeps to the end: that is
cryptography's compiled extension, needed to read the subject, issuer, serial number and validity dates of the
certificates (the fingerprint alone would need only `hashlib`).{call_text} Per task this is a small share of the
ad-hoc command (section 2), which is mostly Ansible. {change_text}
"""
    return text


# -- section 6: the host role --------------------------------------------------------------------------------------
# What each module run of the role is for, in the order a rotation runs them (issue 18's "one look at each host").
HOST_MODULES = {
    "host_signing_certificate_info": (
        "look",
        "checks the role's options and reads the host's signing directory in one go: paths, link targets, modes, "
        "owners, each pair's certificate and the public half of each key (never the private key)",
    ),
    "iam_signing_certificate_info": (
        "IAM listing",
        "lists the user's certificates in IAM, on the controller (delegated); the plan is then made by an action "
        "plugin on the controller, without a module run",
    ),
    "host_signing_certificate_step": (
        "begin, switch, end",
        "begin: takes the lock and makes the new pair's directory; switch: points the stable paths at the new pair "
        "in one rename and runs the consumer check; end: removes the retired pair and unlocks",
    ),
    "openssl_privatekey": ("key", "community.crypto makes the new private key on the host (mode 0600)"),
    "openssl_csr_pipe": ("CSR", "community.crypto makes the signing request, with the made-for name"),
    "x509_certificate": ("certificate", "community.crypto self-signs the new certificate on the host"),
    "iam_signing_certificate": (
        "upload with wait, retire",
        "uploads the new certificate and waits until IAM lists it as active, then, after the switch, deactivates "
        "the old one (a third run makes room first when the user already holds two certificates)",
    ),
    "x509_certificate_info": ("floor: look", "the floor's one look at the host's certificate (community.crypto)"),
}


def _host_sizes(hosts: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(hosts["sizes"].values(), key=lambda entry: entry["hosts"])


def _per_size(values: dict[int, bool]) -> str:
    """One verdict over the sizes: met or missed everywhere, or which sizes met and which missed."""
    met = [str(size) for size, ok in values.items() if ok]
    missed = [str(size) for size, ok in values.items() if not ok]
    if not missed:
        return verdict(True)
    if not met:
        return verdict(False)
    return f"{verdict(False)} at {', '.join(missed)} host(s), {verdict(True)} at {', '.join(met)}"


def host_targets(results: dict[str, Any]) -> list[list[str]]:
    """The rows of issue 18's targets for the host role, for "Against the targets"."""
    hosts = results["hosts"]
    targets = hosts["targets"]
    entries = _host_sizes(hosts)
    rows = []
    for entry in entries:
        ratio, cases = entry["ratio_to_floor"]["noop"], entry["cases"]
        rows.append(
            [
                f"host role, no host due, {entry['hosts']} host(s): ≤ {targets['noop_ratio']:.1f}x the floor playbook "
                "in wall time and in CPU per host",
                f"wall {x(ratio['seconds'])} ({s(cases['noop']['median_seconds'])} against "
                f"{s(cases['floor']['median_seconds'])}); CPU per host {x(ratio['cpu_per_host'])} "
                f"({s(cases['noop']['cpu_per_host'])} against {s(cases['floor']['cpu_per_host'])})",
                verdict(ratio["seconds"] <= targets["noop_ratio"] and ratio["cpu_per_host"] <= targets["noop_ratio"]),
            ]
        )

    def at_sizes(figure: Callable[[dict[str, Any]], str]) -> str:
        return "; ".join(f"{figure(entry)} at {entry['hosts']}" for entry in entries)

    rotation = {entry["hosts"]: entry["cases"]["rotation"] for entry in entries}
    rows += [
        [
            f"host rotation ≤ {targets['rotation_executions']} module runs per host",
            at_sizes(lambda entry: f"{entry['cases']['rotation']['executions_per_host']:.1f}"),
            _per_size(
                {size: r["executions_per_host"] <= targets["rotation_executions"] for size, r in rotation.items()}
            ),
        ],
        [
            f"host rotation ≤ {targets['rotation_cpu_seconds']:.0f} s of CPU per host",
            at_sizes(lambda entry: s(entry["cases"]["rotation"]["cpu_per_host"])),
            _per_size({size: r["cpu_per_host"] <= targets["rotation_cpu_seconds"] for size, r in rotation.items()}),
        ],
        [
            f"host rotation ≤ {targets['rotation_cpu_ratio']:.2f}x the floor's CPU per host (the "
            f"{targets['rotation_cpu_seconds']:.0f} s target was set where the floor cost "
            f"{targets['floor_cpu_when_set']:.1f} s per host)",
            at_sizes(
                lambda entry: (
                    f"{x(entry['ratio_to_floor']['rotation']['cpu_per_host'])} (floor "
                    f"{s(entry['cases']['floor']['cpu_per_host'])})"
                )
            ),
            _per_size(
                {
                    entry["hosts"]: entry["ratio_to_floor"]["rotation"]["cpu_per_host"] <= targets["rotation_cpu_ratio"]
                    for entry in entries
                }
            ),
        ],
    ]
    return rows


def _host_table(entry: dict[str, Any]) -> str:
    cases, ratios = entry["cases"], entry["ratio_to_floor"]
    rows = []
    for case, label in HOST_CASES.items():
        summary = cases[case]
        runs = summary["runs"]
        rows.append(
            [
                label,
                f"**{s(summary['median_seconds'])}**" + (f" ({_range(runs)})" if len(runs) > 1 else ""),
                s(summary["median_cpu_seconds"]),
                f"**{s(summary['cpu_per_host'])}**",
                f"{summary['executions_per_host']:.1f}",
                f"{summary['tasks_per_host']:.1f}",
                s(summary["module_cpu_per_host"]),
                s(summary["controller_cpu_per_host"]),
                "" if case == "floor" else x(ratios[case]["seconds"]),
                "" if case == "floor" else x(ratios[case]["cpu_per_host"]),
                f"{summary['median_foreign_cores']:.2f}",
            ]
        )
    return table(
        [
            "run",
            "wall" + (" (min to max)" if entry["repeats"] > 1 else ""),
            "CPU of the run",
            "CPU per host",
            "module runs per host",
            "tasks per host (run or skipped)",
            "modules' CPU per host",
            "controller's CPU per host",
            "wall / floor",
            "CPU per host / floor",
            "others' load",
        ],
        rows,
    )


def _host_split(entry: dict[str, Any]) -> str:
    """Each module's runs and CPU per host, by case, and the controller's part: where a host's CPU goes."""
    cases = entry["cases"]
    names = [name for name in HOST_MODULES if any(name in cases[case]["modules"] for case in HOST_CASES)]
    names += sorted({name for case in HOST_CASES for name in cases[case]["modules"]} - set(names))

    def cell(case: str, name: str) -> str:
        module = cases[case]["modules"].get(name)
        if not module or not module["executions_per_host"]:
            return ""
        each = module["cpu_per_host"] / module["executions_per_host"]
        return f"{module['executions_per_host']:.1f} x {each:.2f} s"

    rows = [[f"`{name}`", *[cell(case, name) for case in HOST_CASES]] for name in names]
    rows.append(
        [
            "controller (the run's CPU less the modules')",
            *[s(cases[case]["controller_cpu_per_host"]) for case in HOST_CASES],
        ]
    )
    rows.append(["**per host**", *[f"**{s(cases[case]['cpu_per_host'])}**" for case in HOST_CASES]])
    return table(["module", *HOST_CASES.values()], rows)


def _host_before(hosts: dict[str, Any]) -> str:
    before = hosts["before"]
    after = hosts["sizes"].get(str(before["hosts"]))
    if after is None:
        return ""
    floor_noise = abs(before["cases"]["floor"]["cpu_per_host"] / after["cases"]["floor"]["cpu_per_host"] - 1) * 100
    rows = []
    for case, label in HOST_CASES.items():
        old, new = before["cases"][case], after["cases"][case]
        rows.append(
            [
                label,
                s(old["median_seconds"]),
                s(new["median_seconds"]),
                s(old["cpu_per_host"]),
                s(new["cpu_per_host"]),
                f"{old['executions_per_host']:.1f}",
                f"{new['executions_per_host']:.1f}",
                f"{old['tasks_per_host']:.1f}",
                f"{new['tasks_per_host']:.1f}",
                "" if case == "floor" else x(before["ratio_to_floor"][case]["cpu_per_host"]),
                "" if case == "floor" else x(after["ratio_to_floor"][case]["cpu_per_host"]),
            ]
        )
    return f"""
### Before and after, {before["hosts"]} hosts

The role of commit `{before["commit"][:12]}` ("{before["subject"]}"), exported with `git archive` and measured as the
collection (the floor too, with that commit's `iam_signing_certificate_info`) in the same run, {before["repeats"]}
round(s), against this checkout's figures above. Others' load during those runs: {before["foreign_cores"]:.2f} cores.
The two floors run the same playbook and differ by {floor_noise:.0f} % in CPU per host: differences of that order are
this machine's noise, not the role's.

{
        table(
            [
                "run",
                f"wall, {before['ref']}",
                "wall, now",
                f"CPU per host, {before['ref']}",
                "CPU per host, now",
                f"module runs per host, {before['ref']}",
                "module runs per host, now",
                f"tasks per host, {before['ref']}",
                "tasks per host, now",
                f"CPU per host / floor, {before['ref']}",
                "CPU per host / floor, now",
            ],
            rows,
        )
    }

Where the CPU per host of `{before["ref"]}` went:

{_host_split(before)}
"""


def _hosts(results: dict[str, Any]) -> str:
    hosts = results["hosts"]
    targets = hosts["targets"]
    entries = _host_sizes(hosts)
    largest = entries[-1]
    per_size = "\n\n".join(
        f"### {entry['hosts']} host{'s' if entry['hosts'] > 1 else ''} ({entry['repeats']} round"
        f"{'s' if entry['repeats'] > 1 else ''}, medians)\n\n{_host_table(entry)}\n\nWhere the CPU per host goes "
        f"(module runs per host x CPU of each run):\n\n{_host_split(entry)}"
        for entry in entries
    )
    module_rows = [[f"`{name}`", step, text] for name, (step, text) in HOST_MODULES.items()]
    rotation, floor, noop = (largest["cases"][case] for case in ("rotation", "floor", "noop"))
    per_run = rotation["module_cpu_per_host"] / rotation["executions_per_host"]
    floor_per_run = floor["module_cpu_per_host"] / floor["executions_per_host"]
    ratio = largest["ratio_to_floor"]
    noop_ok = {e["hosts"]: max(e["ratio_to_floor"]["noop"].values()) <= targets["noop_ratio"] for e in entries}
    budget = targets["rotation_cpu_seconds"] - rotation["controller_cpu_per_host"]
    target_cpu = targets["rotation_cpu_seconds"]
    if budget > 0:
        budget_text = (
            f" With {s(rotation['controller_cpu_per_host'])} of it the controller's, {target_cpu:.0f} s per host "
            f"would leave {s(budget)} for module runs: about {budget / per_run:.1f} runs at this machine's "
            f"{s(per_run)} each, against the {rotation['executions_per_host']:.0f} a rotation makes."
        )
    else:
        budget_text = (
            f" The controller's part alone, {s(rotation['controller_cpu_per_host'])} per host, is over "
            f"{target_cpu:.0f} s on this machine."
        )
    smallest = entries[0]
    startup_text = (
        f" With {smallest['hosts']} host(s) each run pays Ansible's start-up for fewer hosts: the controller's part "
        f"per host is {s(smallest['cases']['rotation']['controller_cpu_per_host'])} in a rotation there, against "
        f"{s(rotation['controller_cpu_per_host'])} at {largest['hosts']} hosts."
        if smallest is not largest
        else ""
    )
    loaded = [str(entry["hosts"]) for entry in entries if entry["foreign_cores"] > QUIET_CORES]
    noise_text = (
        f" Other processes kept more than {QUIET_CORES} cores busy at {', '.join(loaded)} host(s) (last column): on "
        f"{results['machine']['nproc']} cores that slows the wall times most; CPU times move less, but they are not "
        "immune (a busy core's caches are shared)."
        if loaded
        else ""
    )
    before_text = _host_before(hosts) if hosts.get("before") else ""
    rotations = {entry["hosts"]: entry["cases"]["rotation"] for entry in entries}
    reading = (
        "**Reading.** Each module run is a Python process of its own, on the host (or on the controller for IAM): "
        "Python's start-up, unpacking the AnsiballZ payload, importing Ansible's module code, then boto3 or "
        f"cryptography. At {largest['hosts']} hosts a module run costs {s(per_run)} of CPU on average in a rotation, "
        f"{s(floor_per_run)} in the floor. The controller's part grows with the tasks each host runs: every task, run "
        "or skipped, is a worker the controller forks and whose arguments it templates (the plan, an action plugin, "
        f"runs there too): the rotation's {rotation['tasks_per_host']:.0f} tasks per host cost the controller "
        f"{s(rotation['controller_cpu_per_host'])} per host, the floor's {floor['tasks_per_host']:.0f} tasks "
        f"{s(floor['controller_cpu_per_host'])}. With no host due the role makes {noop['executions_per_host']:.0f} "
        f"module runs and {noop['tasks_per_host']:.0f} tasks per host, against the floor's "
        f"{floor['executions_per_host']:.0f} and {floor['tasks_per_host']:.0f}: {x(ratio['noop']['seconds'])} the "
        f"floor's wall time and {x(ratio['noop']['cpu_per_host'])} its CPU per host at {largest['hosts']} hosts; "
        f"target ≤ {targets['noop_ratio']:.1f}x in both, at each size: {_per_size(noop_ok)}. A forced rotation makes "
        f"{rotation['executions_per_host']:.0f} module runs per host, target ≤ {targets['rotation_executions']}: "
        + _per_size({n: r["executions_per_host"] <= targets["rotation_executions"] for n, r in rotations.items()})
        + f"; it costs {s(rotation['cpu_per_host'])} of CPU per host at {largest['hosts']} hosts, target "
        f"{target_cpu:.0f} s: "
        + _per_size({n: r["cpu_per_host"] <= target_cpu for n, r in rotations.items()})
        + f"; and {x(ratio['rotation']['cpu_per_host'])} the floor's CPU per host, target "
        f"≤ {targets['rotation_cpu_ratio']:.2f}x (the {target_cpu:.0f} s were set where the floor cost "
        f"{targets['floor_cpu_when_set']:.1f} s per host; here it costs {s(floor['cpu_per_host'])}): "
        + _per_size(
            {
                e["hosts"]: e["ratio_to_floor"]["rotation"]["cpu_per_host"] <= targets["rotation_cpu_ratio"]
                for e in entries
            }
        )
        + f".{budget_text}{startup_text}{noise_text}"
    )
    return f"""
## 6. Host rotation: the host role on many hosts, against the floor

The role `certops.aws.host_signing_certificate`, run as a user runs it, through the collection's example playbook:
`ansible-playbook -i inventory.json -f {hosts["forks"]} {hosts["playbook"]}`. Side by side with it, in the same run,
a floor playbook (`{hosts["floor_playbook"]}`) that does the least a check of a host needs:
`community.crypto.x509_certificate_info` of the host's certificate on the host, and
`certops.aws.iam_signing_certificate_info` of its user, delegated to the controller. The inventory holds
{", ".join(str(entry["hosts"]) for entry in entries)} local hosts (`ansible_connection: local`), each with its own
signing directory and IAM user on the moto server; forks {hosts["forks"]}. Four runs per round, each after the state
it needs, every round from fresh users and empty directories:

- **floor**: the floor playbook on hosts that hold a pair;
- **role, no host due**: the role again after a first run, nothing to do (what every scheduled run of a fleet
  costs); the floor and this run alternate which goes first;
- **role, first run**: no pair on any host, each gets one;
- **role, forced rotation**: `-e host_signing_certificate_force=true` on hosts that hold a pair (one certificate per
  user, so no room needs making).

Every run must exit 0, with every host in the recap, none failed, none changed by the floor or the no-op and every
host changed by the others; then the benchmark reads each host's files and its user's certificates with plain boto3:
the key and the certificate match, the certificate is listed Active and is the user's only Active one, unchanged
after the floor and the no-op, a new one after the rotation. A run that fails any of this stops the benchmark.

"CPU" is user + system time of the whole `ansible-playbook` process tree (`os.wait4` through the meter), per host
divided by the hosts. Module runs are counted by the hosts' interpreter (`-e ansible_python_interpreter=`): a bash
wrapper that runs the module's Python under GNU time, which logs each run's CPU and AnsiballZ name. The delegated IAM
modules run on the controller but count for the host they serve. "Controller" is the run's CPU less the modules':
Ansible's start-up, templating, the forks, packing each module, the action plugins (the plan is one), the wrapper and
GNU time themselves. The moto server runs in the benchmark's process and is not counted (about
{ms(rotation["emulator_cpu_per_host"] * 1000)} per host in a rotation).

{per_size}

What each module run is for (a rotation runs them in this order: look, IAM listing, begin, key, CSR, certificate,
upload with wait, switch, retire, end; a first run the same without the retire; a run where no host is due only the
first two, as many as the floor):

{table(["module", "step", "what it does"], module_rows)}

{reading}
{before_text}
"""


def _before_after(results: dict[str, Any], baseline: dict[str, Any]) -> str:
    before, after = key_figures(baseline), key_figures(results)
    compare_rows = [
        [name, f"{before[name]:.2f}" if before.get(name) is not None else "n/a", f"{value:.2f}"]
        for name, value in after.items()
        if value is not None
    ]
    return f"""
## Before and after

Before: `{baseline["command"]}` on {baseline["generated"]} (collection at `{baseline["collection"]}`). After: this run.

{table(["figure", "before", "after"], compare_rows)}
"""


def _notes(results: dict[str, Any]) -> str:
    return """
## Measurement notes

- **Peak RSS across fork and exec.** Linux keeps a process's peak RSS across `fork` and `exec`: a command started
  straight from the benchmark process (moto, boto3 and matplotlib loaded) reports at least the benchmark's own peak,
  so every command is started from `tests/benchmarks/meter.py`, a few-MB launcher. For the same reason the module's
  own process is measured under GNU time, not from the tree: ansible starts it from a fork of its controller.
- **The implicit localhost** runs modules with the controller's Python whatever `ANSIBLE_PYTHON_INTERPRETER` says;
  the timed interpreter is passed as the extra var `ansible_python_interpreter`, the one setting that wins.
- **The proxy** sets `TCP_NODELAY` on its replies: it writes headers and body separately, and without it Nagle's
  algorithm and the client's delayed ACK add tens of milliseconds to every request.
- **Nothing is replayed in section 4.** A rotation writes to each user between its listings, so a recorded
  answer would be stale; moto computes every answer there, and its CPU per request is reported next to the figures.
- **The emulator shares the machine.** moto and the proxy run in the benchmark's own process, on the same cores as
  Ansible and the module; their CPU per request is reported in section 3 so it can be taken out of the reading.
- **Noise.** Other processes on the machine (see the load averages) widen the min-to-max ranges; the medians and the
  A/B alternation keep the comparisons fair, but absolute times move from run to run.
"""
