"""docs/performance.md and the fan-out chart, generated from one run's results (no number is typed by hand)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.benchmarks.common import median
from tests.benchmarks.fanout import QUIET_CORES

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


def key_figures(results: dict[str, Any]) -> dict[str, float | None]:
    """What a before/after comparison shows."""
    ratio = results["overhead"]["median_pair_ratio"]
    point = fanout_point(results)
    return {
        "task time vs floor (median pair ratio)": ratio["seconds"],
        "task peak RSS (tree) vs floor": ratio["tree_maxrss_kb"],
        "module process peak RSS vs floor": ratio.get("module_maxrss_kb"),
        f"fan-out net time, {point['users']} users (s)": point["collection"]["net_seconds"],
        f"sequential loop, {point['users']} users (s)": point["sequential"]["median_seconds"],
        f"fan-out speed-up, {point['users']} users": speedup(point),
    }


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
    chart_path: Path,
    doc_path: Path,
    rendered: str | None = None,
) -> str:
    """The whole of docs/performance.md; `rendered`: when the text was written again from stored results."""
    parts = [
        _head(results, rendered),
        _how_to_run(results),
        _machine(results),
        _summary(results),
        _api_calls(results),
        _overhead(results),
        _fanout(results, os.path.relpath(chart_path, doc_path.parent)),
        _profile(results, baseline),
        _notes(results),
    ]
    return "\n\n".join(part.strip() for part in parts) + "\n"


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
[performance/results.json](performance/results.json).{again}
{quick}
"""


def _how_to_run(results: dict[str, Any]) -> str:
    return """
## How to run

From the repository root, with the project's venv (`make venv`):

```sh
.venv/bin/python -m tests.benchmarks.run          # everything: this file, performance/results.json, the chart
.venv/bin/python -m tests.benchmarks.run --quick  # a small run that only checks the harness
.venv/bin/python -m tests.benchmarks.run --render-only  # this text again from performance/results.json
.venv/bin/python -m tests.benchmarks.run --help   # sizes, runs, latency, another checkout, --baseline
```

- It installs what it needs on first use: matplotlib, pinned in `tests/benchmarks/requirements.txt`, into the running
  venv; AWS CLI v1, pinned in `tests/benchmarks/requirements-awscli.txt`, into a venv of its own under
  `~/.cache/certops-aws-benchmarks/` (the CLI bundles its own botocore; outside the checkout, so that neither
  `ansible-galaxy collection build` nor ansible-test picks it up).
- It starts its own moto server on 127.0.0.1 and a free port, and a loopback proxy (`tests/proxy.py`) in front of it.
  Nothing listens or connects anywhere else. Credentials are the dummy `testing`; `AWS_CONFIG_FILE` and
  `AWS_SHARED_CREDENTIALS_FILE` point to `/dev/null`, so `~/.aws` is never read.
- Ansible runs ad hoc with a temporary `ANSIBLE_HOME` and an empty `ansible.cfg`; the collection is this checkout
  through a temporary `ansible_collections/certops/aws` symlink; the floor module comes from
  `tests/benchmarks/library/` through `ANSIBLE_LIBRARY`.
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
        ["AWS CLI", results["fanout"]["awscli"]],
        ["load average (1, 5, 15 min) at start", ", ".join(f"{v:.2f}" for v in load["start"])],
        ["load average at end", ", ".join(f"{v:.2f}" for v in load["end"])],
        ["others' CPU during section 2 (cores)", f"{results['overhead']['foreign_cores']:.2f}"],
        ["others' CPU during section 4 (cores)", f"{results['profile']['foreign_cores']:.2f}"],
    ]
    return "## The machine\n\n" + table(["", ""], rows)


def _summary(results: dict[str, Any]) -> str:
    ratio = results["overhead"]["median_pair_ratio"]
    point = fanout_point(results)
    gain = speedup(point)
    rows = [
        [
            "API calls: no-op = 1 list call per page and 0 writes; a change = that + 1 write; check mode = 0 writes; "
            "info for one user = 1 list call per page",
            f"{sum(1 for row in results['api_calls'] if row['lists'] == row['expected_lists'] and row['writes'] == row['expected_writes'])}"  # noqa: E501
            f" of {len(results['api_calls'])} cases as expected",
            verdict(api_calls_ok(results)),
        ],
        [
            f"task time ≤ {TIME_TARGET:.2f}x the floor module",
            f"{x3(ratio['seconds'])} (median of {results['overhead']['runs']} A/B pair ratios; 95 % interval "
            f"{interval(results, 'seconds')})",
            verdict(ratio["seconds"] <= TIME_TARGET),
        ],
        [
            f"task peak memory ≤ {MEMORY_TARGET:.2f}x the floor module",
            f"{x3(ratio['tree_maxrss_kb'])} (peak RSS of the process tree; 95 % interval "
            f"{interval(results, 'tree_maxrss_kb')})",
            verdict(ratio["tree_maxrss_kb"] <= MEMORY_TARGET),
        ],
        [
            f"all_users fan-out ≥ {FANOUT_TARGET:.0f}x the sequential loop, max_concurrency 8, {point['users']} users",
            f"{x(gain)} ({s(point['collection']['net_seconds'])} against {s(point['sequential']['median_seconds'])})",
            verdict(gain >= FANOUT_TARGET),
        ],
    ]
    return "## Against the targets\n\n" + table(["target", "measured", "verdict"], rows)


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
            "dilutes this, but section 4 shows where the difference is."
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

Users `user0000`… with one certificate each. Every request goes through the loopback proxy (`tests/proxy.py`), which
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


def _profile(results: dict[str, Any], baseline: dict[str, Any] | None) -> str:
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
    ratio = results["overhead"]["median_pair_ratio"]
    if ratio["seconds"] <= TIME_TARGET and ratio["tree_maxrss_kb"] <= MEMORY_TARGET:
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
## 4. Profile: where the module's process spends time and memory

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
    if baseline is not None:
        before, after = key_figures(baseline), key_figures(results)
        compare_rows = [
            [name, f"{before[name]:.2f}" if before.get(name) is not None else "n/a", f"{value:.2f}"]
            for name, value in after.items()
            if value is not None
        ]
        text += f"""
### Before and after

Before: `{baseline["command"]}` on {baseline["generated"]} (collection at `{baseline["collection"]}`). After: this run.

{table(["figure", "before", "after"], compare_rows)}
"""
    return text


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
- **The emulator shares the machine.** moto and the proxy run in the benchmark's own process, on the same cores as
  Ansible and the module; their CPU per request is reported in section 3 so it can be taken out of the reading.
- **Noise.** Other processes on the machine (see the load averages) widen the min-to-max ranges; the medians and the
  A/B alternation keep the comparisons fair, but absolute times move from run to run.
"""
