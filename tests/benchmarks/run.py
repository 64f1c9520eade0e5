"""Run every benchmark of certops.aws and write docs/performance.md, docs/performance/results.json and the chart.

From the repository root:
    .venv/bin/python -m tests.benchmarks.run            # the full run, 45 to 50 minutes on 2 cores
    .venv/bin/python -m tests.benchmarks.run --quick    # a smoke run of the harness, about 4 minutes
    .venv/bin/python -m tests.benchmarks.run --only fleet   # one section; the others are kept from results.json
    .venv/bin/python -m tests.benchmarks.run --only hosts   # the host role: 27 minutes, 45 with --hosts-before REF

Everything talks to a moto server this run starts on 127.0.0.1, with dummy credentials; ~/.aws is never read.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python tests/benchmarks/run.py` works as well as `python -m tests.benchmarks.run`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks import common
from tools import pythons

DOC = common.REPO / "docs" / "performance.md"
OUTPUT = common.REPO / "docs" / "performance"
REQUIREMENTS = common.HERE / "requirements.txt"
# The sections, in the order they run; --only picks some of them.
SECTIONS = ("api_calls", "overhead", "profile", "fanout", "fleet", "second_rotation", "hosts")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def ensure_matplotlib() -> None:
    """Install the benchmark's own pinned requirements into this venv when the chart library is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        log(f"installing {REQUIREMENTS.relative_to(common.REPO)} into {sys.prefix}")
        # The lock of this venv's series keeps what .venv already holds where it is.
        series = pythons.DEFAULT_SERIES.get(f"{sys.version_info.major}.{sys.version_info.minor}")
        constraints = common.REPO / "requirements" / "lock" / f"default-{series}.txt"
        argv = [sys.executable, "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)]
        argv += ["-c", str(constraints)] if constraints.exists() else []
        subprocess.run(argv, check=True)


def parse_sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def parse_sections(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in SECTIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"sections are a comma-separated list of {', '.join(SECTIONS)}")
    return names


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few runs and small sizes: checks the harness only")
    parser.add_argument("--runs", type=int, default=40, help="A/B pairs for the task overhead (at least 10)")
    parser.add_argument("--sizes", type=parse_sizes, default=[100, 300, 1000], help="fan-out user counts")
    parser.add_argument("--repeats", type=int, default=3, help="runs per fan-out point (1000 users: 1 sequential)")
    parser.add_argument("--target-repeats", type=int, default=5, help="runs at the size the target is judged at")
    parser.add_argument("--cli-sizes", type=parse_sizes, default=[100, 300], help="sizes also run with the AWS CLI")
    parser.add_argument("--sweep", type=parse_sizes, default=[1, 2, 4, 16, 32], help="max_concurrency values at 300")
    parser.add_argument("--latency-ms", type=float, default=40.0, help="added by the proxy to every request")
    parser.add_argument(
        "--fleet-sizes", type=parse_sizes, default=[10, 100, 300], help="user counts of the fleet rotation"
    )
    parser.add_argument(
        "--fleet-repeats", type=int, default=3, help="runs of the role and of the script per fleet size"
    )
    parser.add_argument(
        "--second-rotation-repeats", type=int, default=3, help="repeats of the two rotations in a large account"
    )
    parser.add_argument(
        "--second-rotation-account", type=int, default=3000, help="users of the account of the second rotation"
    )
    parser.add_argument(
        "--host-sizes",
        type=parse_sizes,
        default=[1, 16, 100],
        help="local hosts of the host role benchmark (section hosts, forks 20)",
    )
    parser.add_argument(
        "--host-repeats",
        type=int,
        help="rounds (provision, floor, no-op, rotation) per host count; default 3 up to 16 hosts, 1 above",
    )
    parser.add_argument(
        "--hosts-before",
        metavar="REF",
        help="also measure the host role of this commit of the repository at 16 hosts, for before/after (e.g. "
        "07297a0, before issue 18); exported with git archive, no worktree is touched",
    )
    parser.add_argument(
        "--only",
        type=parse_sections,
        default=list(SECTIONS),
        help=f"measure only these sections (comma-separated: {', '.join(SECTIONS)}); the others are taken from "
        "OUTPUT/results.json when it holds them from a run of the same kind (--quick or not)",
    )
    parser.add_argument(
        "--collection",
        type=Path,
        default=common.REPO,
        help="checkout of the collection to measure (default: this one), e.g. a scratch copy with a candidate fix",
    )
    parser.add_argument("--baseline", type=Path, help="a results.json to show as 'before' next to this run")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where results.json and the chart go")
    parser.add_argument("--doc", type=Path, default=DOC, help="the markdown file to write")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="measure nothing: write the markdown and the chart again from OUTPUT/results.json (after a text change)",
    )
    parsed = parser.parse_args()
    if parsed.quick:
        parsed.runs, parsed.sizes, parsed.repeats, parsed.target_repeats = 10, [20, 60], 1, 1
        parsed.cli_sizes, parsed.sweep = [20], [1, 16]
        parsed.fleet_sizes, parsed.fleet_repeats = [10, 30], 1
        parsed.second_rotation_repeats, parsed.second_rotation_account = 1, 300
        parsed.host_sizes, parsed.host_repeats = [1, 4], 1
    if parsed.runs < 10 and not parsed.quick:
        parser.error("--runs must be at least 10")
    return parsed


def measure(opts: argparse.Namespace) -> dict[str, Any]:
    """The sections asked for (all by default), in one run on this machine: the results as written to results.json."""
    common.scrub_own_environment()
    common.guard_loopback()

    # Imported after the environment is scrubbed: boto3 reads it when a session is made.
    from tests.benchmarks import fanout, fleet, hosts, overhead, profiling, second_rotation
    from tests.benchmarks.adhoc import AdHoc
    from tools.certs import make_certificate

    started = time.perf_counter()
    generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(["python -m tests.benchmarks.run", *sys.argv[1:]])
    results: dict[str, Any] = {
        "generated": generated,
        "command": command,
        "quick": opts.quick,
        "collection": str(opts.collection.resolve()),
        "machine": common.machine(),
        "load_average": {"start": os.getloadavg()},
        "sections": {},
    }

    def section(name: str) -> bool:
        """Whether to measure this section; if so, it is recorded as measured by this run."""
        if name not in opts.only:
            return False
        results["sections"][name] = {"generated": generated, "command": command}
        return True

    with common.collections_tree(opts.collection) as tree, common.moto_server() as moto:
        if section("api_calls"):
            # In a child process: moto's in-process mock patches botocore for the whole process.
            log("a. API calls per task (moto in-process)")
            done = subprocess.run(
                [sys.executable, "-m", "tests.benchmarks.api_calls", "--collection", str(tree)],
                env=common.clean_environ(),
                cwd=common.REPO,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise SystemExit(f"API call count failed:\n{done.stderr}")
            results["api_calls"] = json.loads(done.stdout)

        adhoc = AdHoc(tree)
        try:
            if "overhead" in opts.only or "profile" in opts.only:
                iam = common.iam_client(moto)
                iam.create_user(UserName="alice")
                iam.upload_signing_certificate(UserName="alice", CertificateBody=make_certificate("alice"))

            if section("overhead"):
                log(f"b. task overhead: {opts.runs} A/B pairs of ad-hoc runs")
                with common.ForeignLoad() as load:
                    results["overhead"] = overhead.measure(adhoc, moto, "alice", opts.runs)
                results["overhead"]["foreign_cores"] = load.cores
                ratio = results["overhead"]["median_pair_ratio"]
                log(f"   time x{ratio['seconds']:.3f}, tree peak RSS x{ratio['tree_maxrss_kb']:.3f}")

            if section("profile"):
                log("d. profile: imports and main() step by step, collection against floor")
                with common.ForeignLoad() as load:
                    results["profile"] = {
                        "imports": profiling.import_costs(tree, repeats=9),
                        "phases": profiling.phase_costs(tree, moto, "alice", repeats=12),
                        "first_call": profiling.first_call_costs(moto, "alice", repeats=12),
                    }
                results["profile"]["foreign_cores"] = load.cores
            common.reset_moto(moto)

            if section("fanout"):
                target = 300 if 300 in opts.sizes else max(opts.sizes)
                log(f"c. fan-out over {opts.sizes} users, {opts.latency_ms:.0f} ms added per request")
                results["fanout"] = fanout.measure(
                    adhoc,
                    moto,
                    sizes=opts.sizes,
                    repeats=opts.repeats,
                    target_size=target,
                    target_repeats=max(opts.repeats, opts.target_repeats),
                    latency=opts.latency_ms / 1000,
                    cli_sizes=opts.cli_sizes,
                    sweep=opts.sweep,
                    log=log,
                )
        finally:
            adhoc.close()

        if section("fleet"):
            log(f"e. fleet rotation of {opts.fleet_sizes} users, {opts.latency_ms:.0f} ms added per request")
            results["fleet"] = fleet.measure(
                moto,
                tree,
                sizes=opts.fleet_sizes,
                repeats=opts.fleet_repeats,
                target_repeats=max(opts.fleet_repeats, opts.target_repeats),
                latency=opts.latency_ms / 1000,
                log=log,
            )

        if section("second_rotation"):
            log(
                f"g. second rotation of {second_rotation.USERS} users in an account of "
                f"{opts.second_rotation_account}, {opts.latency_ms:.0f} ms added per request"
            )
            results["second_rotation"] = second_rotation.measure(
                moto,
                tree,
                account=opts.second_rotation_account,
                repeats=opts.second_rotation_repeats,
                latency=opts.latency_ms / 1000,
                log=log,
            )

        if section("hosts"):
            log(f"f. the host role on {opts.host_sizes} local hosts, forks {hosts.FORKS}, against the floor playbook")
            results["hosts"] = hosts.measure(
                moto,
                opts.collection,
                sizes=opts.host_sizes,
                repeats=opts.host_repeats,
                before=opts.hosts_before,
                log=log,
            )
    results["load_average"]["end"] = os.getloadavg()
    results["seconds"] = time.perf_counter() - started
    for name in results["sections"]:
        results["sections"][name]["load_average"] = results["load_average"]
    return results


def keep_other_sections(results: dict[str, Any], previous: dict[str, Any]) -> list[str]:
    """With --only: the sections this run did not measure, taken from the previous results.json (same kind of run,
    --quick or not). Returns their names; each keeps the date, command and load of the run that measured it."""
    if previous.get("quick") != results["quick"]:
        return []
    kept = []
    for name in SECTIONS:
        if name in results["sections"] or name not in previous:
            continue
        results[name] = previous[name]
        results["sections"][name] = previous.get("sections", {}).get(name) or {
            "generated": previous["generated"],
            "command": previous["command"],
            "load_average": previous.get("load_average"),
        }
        kept.append(name)
    return kept


def main() -> None:
    opts = options()
    ensure_matplotlib()
    from tests.benchmarks import report

    results_path = opts.output / "results.json"
    if opts.render_only:
        # Only the text changed: the figures are those of the run that wrote results.json.
        results = json.loads(results_path.read_text())
        rendered = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    else:
        results = measure(opts)
        rendered = None
        if set(opts.only) != set(SECTIONS) and results_path.exists():
            kept = keep_other_sections(results, json.loads(results_path.read_text()))
            if kept:
                log(f"kept from {results_path}: {', '.join(kept)}")
        opts.output.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps(results, indent=1) + "\n")
    baseline = json.loads(opts.baseline.read_text()) if opts.baseline else None
    charts = {"fanout": opts.output / "fanout.png", "fleet": opts.output / "fleet.png"}
    if "fanout" in results:
        report.chart(results, charts["fanout"])
    if "fleet" in results:
        report.fleet_chart(results, charts["fleet"])
    opts.doc.write_text(report.markdown(results, baseline, charts, opts.doc, rendered))
    took = "" if opts.render_only else f" after {results['seconds'] / 60:.1f} minutes of measuring"
    written = ", ".join(str(path) for path in [opts.doc, results_path, *[charts[n] for n in charts if n in results]])
    log(f"wrote {written}{took}")


if __name__ == "__main__":
    main()
