"""Property-based tests of the host rotation planner with the real host steps (Hypothesis).

Generated: a host's signing directory (no pair, a pair placed by hand, a pair of the role's layout, stable links
missing, an adoption half done, a broken pair; a staged pair whole, half made, empty, dangling or already switched
to; a replaced pair; leftovers; retired.json; a lock of a live or a gone run; links and files the role did not make)
with keys and certificates made for this host, another host, another IAM user or by hand, due or not or expired;
the IAM user's certificates (up to IAM's quota of 2, active or not, some only in IAM); the options; a failure, or a
kill, at any step, and a consumer check that fails. Each case runs the role's steps on a real directory, then a
rerun, then checks that a third run has nothing left to do.

Derandomised (a failure reproduces on every run); CERTOPS_HYPOTHESIS_EXAMPLES raises the number of cases.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.plugins.module_utils.host_world import (
    HOST,
    NOW,
    SIGNING,
    USER,
    Iam,
    consumer_view,
    fresh_world,
    held_fingerprints,
    new_pairs,
    options,
    pair_name,
    pool,
    run_role,
    snapshot,
    write_pair,
)

# Thousands of cases by default (about 40 s on 2 cores); CERTOPS_HYPOTHESIS_EXAMPLES sets another number.
EXAMPLES = int(os.environ.get("CERTOPS_HYPOTHESIS_EXAMPLES", "2000"))
settings.register_profile(
    "certops-host",
    derandomize=True,
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

STEPS = ("begin", "make", "make_room", "upload", "switch", "retire", "end")


@st.composite
def worlds(draw):
    """A host directory (as a list of things to build) and the IAM user's certificates."""
    unused = list(pool())
    placed = []

    def material(made_here_likely: bool = False):
        makers = ["here"] * (6 if made_here_likely else 3) + ["hand"] * 2 + ["other-host", "other-user"]
        wanted = f"{draw(st.sampled_from(makers))}-{draw(st.sampled_from(['long', 'long', 'due', 'due', 'expired']))}-"
        chosen = next((m for m in unused if m.label.startswith(wanted)), unused[0])
        unused.remove(chosen)
        placed.append(chosen)
        return chosen

    spec = {"exists": draw(st.integers(0, 9)) > 0}
    if spec["exists"]:
        consumers = ["none", "loose", "pair", "pair", "pair", "pair-nolinks", "half-adopted", "broken"]
        spec["consumer"] = draw(st.sampled_from(consumers))
        spec["staged"] = draw(
            st.sampled_from(["none", "none", "none", "pair", "pair", "partial", "empty", "dangling", "current"])
        )
        spec["previous"] = draw(st.sampled_from(["none", "none", "none", "pair", "pair", "dangling", "current"]))
        spec["extras"] = draw(st.lists(st.sampled_from(["pair", "partial", "empty"]), max_size=2))
        spec["lock"] = draw(st.sampled_from(["none"] * 7 + ["stale", "stale", "alive"]))
        spec["foreign"] = draw(st.sampled_from([None] * 16 + ["key-link", "pairs-link", "pair-link", "stranger"]))
        if spec["consumer"] in ("loose", "pair", "pair-nolinks", "half-adopted", "broken"):
            spec["consumer_material"] = material()
        if spec["staged"] == "pair":
            spec["staged_material"] = material(made_here_likely=True)
        if spec["previous"] == "pair":
            spec["previous_material"] = material(made_here_likely=True)
        spec["extra_materials"] = [material() if kind == "pair" else None for kind in spec["extras"]]
    in_iam = []
    for candidate in placed:
        if len(in_iam) < 2 and draw(st.integers(0, 4)) > 0:
            in_iam.append((candidate, draw(st.sampled_from(["Active", "Active", "Inactive"]))))
    if len(in_iam) < 2 and draw(st.booleans()):
        in_iam.append((material(), draw(st.sampled_from(["Active", "Inactive"]))))
    spec["iam"] = in_iam
    spec["ledger"] = [m.fingerprint for m in placed if draw(st.integers(0, 4)) == 0]
    return spec


def build(root: Path, spec) -> tuple[Path, Iam]:
    directory = root / "signing"
    iam = Iam()
    for material, status in spec["iam"]:
        iam.add(material, status)
    if not spec["exists"]:
        return directory, iam
    directory.mkdir(mode=0o750)
    pairs = directory / "pairs"
    pairs.mkdir(mode=0o750)
    names = iter(pair_name(number) for number in range(10))
    consumer_name = None
    kind = spec["consumer"]
    if kind == "loose":
        write_pair(directory / "hand", spec["consumer_material"])
        for name in ("signing.key", "signing.pem"):
            os.rename(directory / "hand" / name, directory / name)
        (directory / "hand").rmdir()
    elif kind in ("pair", "pair-nolinks", "half-adopted", "broken"):
        consumer_name = next(names)
        write_pair(pairs / consumer_name, spec["consumer_material"])
        if kind == "broken":
            (pairs / consumer_name / "signing.key").write_bytes(pool()[0].key)
        (directory / "current").symlink_to(f"pairs/{consumer_name}")
        if kind != "pair-nolinks":
            for name in ("signing.key", "signing.pem"):
                (directory / name).symlink_to(f"current/{name}")
        if kind == "half-adopted":
            (directory / "signing.pem").unlink()
            (directory / "signing.pem").write_bytes(spec["consumer_material"].cert)
    staged = spec["staged"]
    if staged == "current" and consumer_name:
        (directory / "next").symlink_to(f"pairs/{consumer_name}")
    elif staged == "dangling":
        (directory / "next").symlink_to(f"pairs/{next(names)}")
    elif staged in ("pair", "partial", "empty"):
        name = next(names)
        write_pair(
            pairs / name,
            spec.get("staged_material") or pool()[1],
            "both" if staged == "pair" else staged.replace("partial", "key"),
        )
        (directory / "next").symlink_to(f"pairs/{name}")
    previous = spec["previous"]
    if previous == "current" and consumer_name:
        (directory / "previous").symlink_to(f"pairs/{consumer_name}")
    elif previous == "dangling":
        (directory / "previous").symlink_to(f"pairs/{next(names)}")
    elif previous == "pair":
        name = next(names)
        write_pair(pairs / name, spec["previous_material"])
        (directory / "previous").symlink_to(f"pairs/{name}")
    for kind, material in zip(spec["extras"], spec["extra_materials"], strict=True):
        write_pair(
            pairs / next(names), material or pool()[2], "both" if kind == "pair" else kind.replace("partial", "key")
        )
    if spec["ledger"]:
        entries = [{"fingerprint_sha256": fingerprint, "certificate_id": ""} for fingerprint in spec["ledger"]]
        (directory / "retired.json").write_text(json.dumps({"retired": entries}))
    lock = spec["lock"]
    if lock != "none":
        expires = NOW.timestamp() + (3600 if lock == "alive" else -3600)
        holder = {"host": "controller.elsewhere", "boot_id": "x", "pid": 1, "started": "1"}
        (directory / "rotation.lock").write_text(
            json.dumps({"run": "other", "controller": holder, "acquired": "then", "expires": expires})
        )
    foreign = spec["foreign"]
    if foreign == "key-link":
        for name in ("signing.key", "signing.pem"):
            if os.path.lexists(directory / name):
                os.unlink(directory / name)
        (directory / "signing.key").symlink_to("/etc/hostname")
        (directory / "signing.pem").symlink_to("current/signing.pem")
    elif foreign == "pairs-link":
        (directory / "pairs").rename(directory / "pairs.real")
        (directory / "pairs").symlink_to(str(directory / "pairs.real"))
    elif foreign == "pair-link":
        (pairs / "20270101T000000.000000Z").symlink_to("/etc")
    elif foreign == "stranger":
        target = pairs / next(names)
        write_pair(target, pool()[3])
        (target / "notes.txt").write_text("kept by someone")
    return directory, iam


def own_fingerprints(directory: Path, iam: Iam, spec) -> set[str]:
    """This host's certificates by the rule the planner promises: made for this host and user, retired by it
    before, or held in a whole pair on it."""
    mine = {r["fingerprint_sha256"] for r in iam.records if r["made_for"] == [HOST, USER, str(SIGNING), ""]}
    mine |= set(spec.get("ledger", [])) | held_fingerprints(directory)
    return mine | {m.fingerprint for m in new_pairs()}


@settings(settings.get_profile("certops-host"))
@given(
    spec=worlds(),
    force=st.booleans(),
    delete=st.booleans(),
    fail_at=st.sampled_from([None, None, *STEPS]),
    kill=st.booleans(),
    check_fails=st.booleans(),
)
def test_host_rotation_invariants(spec, force, delete, fail_at, kill, check_fails):
    with fresh_world() as world:
        directory, iam = build(world, spec)
        opts = options(force=force, old_certificate_action="delete" if delete else "deactivate")
        fresh = list(new_pairs())
        host_before, iam_before = snapshot(directory), iam.snapshot()
        own = own_fingerprints(directory, iam, spec)
        held_at_start = held_fingerprints(directory)
        first_view = consumer_view(directory) if spec["exists"] else None
        first_active = first_view is not None and (iam.by_fingerprint(first_view[2]) or {}).get("status") == "Active"
        switched = []

        def observe(step):
            if step == "switch":
                switched.append(True)
            view = consumer_view(directory)
            if first_active:
                # A pair whose certificate is not active may be detached (when its certificate goes to make room).
                assert view is not None, f"after {step}, the consumer has no pair any more"
            if view is not None:
                assert view[0] == view[1], f"after {step}, the consumer reads a key that is not its certificate's"
                if first_active:
                    record = iam.by_fingerprint(view[2])
                    assert record and record["status"] == "Active", (
                        f"after {step}, the consumer's certificate is not active"
                    )
            for kind, fingerprint in iam.writes[writes_before:]:
                if kind in ("delete", "deactivate"):
                    assert force or fingerprint in own, f"{kind} of a certificate this host did not make: {fingerprint}"
            if first_active and any(f == first_view[2] for _k, f in iam.writes[writes_before:] if _k != "upload"):
                assert switched, f"the certificate in use was retired at {step}, before the switch"

        writes_before = 0
        first = run_role(
            directory, iam, opts, NOW, fresh, check_fails=check_fails, fail_at=fail_at, kill=kill, observe=observe
        )
        plan = first.plan
        if plan.blocked:
            assert snapshot(directory) == host_before and iam.snapshot() == iam_before, "a blocked run wrote"
            assert plan.error_code and plan.reason
            return

        # A whole pair whose certificate is active is never removed; nor one whose certificate nobody can account for.
        active_now = {r["fingerprint_sha256"] for r in iam.records if r["status"] == "Active"}
        held_now = held_fingerprints(directory)
        assert not (held_at_start & active_now) - held_now, "a key whose certificate is active left the host"
        unknown = held_at_start - {fp for _i, _s, fp in iam_before} - own
        assert unknown <= held_now, "a pair whose certificate nobody can account for left the host"

        if fail_at is None and not check_fails and plan.changes:
            # What the plan said (check mode's preview and diff) is what the run did.
            after = plan.after
            listed = {
                (r["certificate_id"], r["status"])
                for r in iam.records
                if r["certificate_id"] in dict((i, s) for i, s, _f in iam_before)
            }
            predicted = {
                (r["certificate_id"], r["status"]) for r in after["iam"] if not r["certificate_id"].startswith("(new")
            }
            assert listed == predicted
            assert len(iam.records) == len(after["iam"])
            pairs_now = sorted(os.listdir(directory / "pairs")) if (directory / "pairs").is_dir() else []
            assert pairs_now == after["host"]["pairs"]

        # The rerun finishes what the first run left, in one run, and a third has nothing to do. Without force (it is
        # given for one run), unless the first run stopped before it changed anything: then it is the same run again.
        action = "delete" if delete else "deactivate"
        opts = options(force=force and not first.steps_taken, old_certificate_action=action)
        third_opts = options(force=False, old_certificate_action=action)
        writes_before = len(iam.writes)
        first_view = consumer_view(directory)
        first_active = first_view is not None and (iam.by_fingerprint(first_view[2]) or {}).get("status") == "Active"
        switched.clear()
        later = NOW + datetime.timedelta(seconds=1)
        second = run_role(directory, iam, opts, later, fresh, observe=observe)
        assert not second.plan.blocked, second.plan.reason
        third = run_role(directory, iam, third_opts, later + datetime.timedelta(seconds=1), fresh)
        if third.plan.changes and second.plan.current_certificate_id is None:
            # A pair whose certificate IAM does not list is removed only once the listing is known to be the right
            # one (it holds a certificate of this host): a host that had none may need the run after to do it.
            gone = {*third.plan.remove, *third.plan.discard}
            assert gone and not (third.plan.upload or third.plan.retire or third.plan.switch_to), third.plan.summary()
            assert gone <= set(third.plan.before["host"]["pairs"]), third.plan.summary()
            third = run_role(directory, iam, third_opts, later + datetime.timedelta(seconds=2), fresh)
        assert not third.plan.changes, third.plan.summary()
        assert iam.uploads <= 1, "more than one certificate was uploaded for one rotation"
        view = consumer_view(directory)
        if view is not None:
            assert view[0] == view[1]
        if plan.action in ("provision", "rotate", "resume"):
            assert view is not None and iam.by_fingerprint(view[2])["status"] == "Active"
        # No certificate of this host is left active without its key on the host.
        own_active = {
            r["fingerprint_sha256"]
            for r in iam.records
            if r["status"] == "Active" and r["made_for"] == [HOST, USER, str(SIGNING), ""]
        }
        assert own_active <= held_fingerprints(directory), "an active certificate of this host lost its key"
        assert not (directory / "rotation.lock").exists(), "the lock was left"
