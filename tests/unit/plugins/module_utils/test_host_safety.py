"""What the role host_signing_certificate promises where an attacker, a mistake or bad luck would make it break:
each test drives the real host steps (module_utils/host_layout.py and the step module) on a temporary directory
with the model of IAM of host_world.py; its docstring says what the attacker or operator does and what must hold.
"""

from __future__ import annotations

import datetime
import json
import os
import pwd
from pathlib import Path

import pytest

from ansible_collections.certops.aws.plugins.module_utils import host_layout
from ansible_collections.certops.aws.plugins.module_utils.host_rotation import plan_host
from ansible_collections.certops.aws.plugins.modules import host_signing_certificate_step as steps
from tests.unit.plugins.module_utils.host_world import (
    HOST,
    NOW,
    SIGNING,
    USER,
    Iam,
    _material,
    consumer_view,
    fresh_world,
    held_fingerprints,
    new_pairs,
    options,
    run_role,
)

NOBODY = pwd.getpwnam("nobody")
LATER = NOW + datetime.timedelta(seconds=1)
SECOND = datetime.timedelta(seconds=1)


@pytest.fixture(autouse=True)
def world():
    """Each test on an empty WORLD: the host's directory is SIGNING, the one the test pairs' made-for names name."""
    with fresh_world() as path:
        yield path


def provisioned(iam: Iam, fresh: list) -> Path:
    """A host the role provisioned: its own pair (made for HOST, USER and the directory), active in IAM."""
    directory = SIGNING
    first = run_role(directory, iam, options(), NOW, fresh)
    assert first.plan.action == "provision" and not first.failed_at, first.plan.summary()
    return directory


def look_and_plan(directory: Path, iam: Iam, opts: dict, now: datetime.datetime = LATER):
    facts = host_layout.look(str(directory), opts["owner"], opts["group"], now.timestamp())
    return plan_host({**opts, "dir": str(directory)}, facts, [dict(r) for r in iam.records], now)


# ---------------------------------------------------------------------------------------------------------------
# a ledger entry of a certificate that is still active turns "not in this account" into "deleted by this host"


@pytest.mark.parametrize("stopped_at", ["upload", "switch"])
def test_a_run_against_another_account_after_an_interrupted_rotation_leaves_the_working_key(tmp_path, stopped_at):
    """a rotation that stops anywhere between its first step and the retirement (the upload fails, IAM
    throttles, the consumer check fails, the run is killed) has already written the certificate in use to
    retired.json (the plan records what it *will* retire before the first write in IAM). The certificate is still
    active. A later run with the same user name in another account (a wrong profile: the case issue 18 names) lists
    no such certificate; the planner reads "in the ledger and not listed" as "deleted from IAM by this host",
    rotates, and removes the pair in use - the only key of a certificate that is active in the right account.
    Without the ledger entry the same run is refused (HostCertificateUnknown), as issue 18 requires."""
    account_a, fresh = Iam(), list(new_pairs())
    directory = provisioned(account_a, fresh)
    working = consumer_view(directory)
    assert working is not None
    # A due rotation (threshold 364 days > the pair's 300 left) that stops at `stopped_at`.
    interrupted = run_role(
        directory,
        account_a,
        options(threshold_days=364),
        LATER,
        fresh,
        fail_at=stopped_at if stopped_at != "switch" else None,
        check_fails=stopped_at == "switch",
    )
    assert interrupted.plan.action == "rotate" and interrupted.failed_at, interrupted.plan.summary()
    assert account_a.by_fingerprint(working[2])["status"] == "Active"
    assert consumer_view(directory) == working  # still signing with the working pair
    ledger = json.loads((directory / "retired.json").read_text())["retired"]
    assert working[2] in [item["fingerprint_sha256"] for item in ledger]  # the root of the problem

    account_b = Iam()  # the same user name, another account: it has none of the host's certificates
    wrong = run_role(directory, account_b, options(), LATER + datetime.timedelta(seconds=1), fresh)
    assert working[2] in held_fingerprints(directory), (
        "the working key (its certificate active in the right account) was deleted: " + wrong.plan.summary()
    )
    assert wrong.plan.blocked and wrong.plan.error_code == "HostCertificateUnknown", wrong.plan.summary()


# ---------------------------------------------------------------------------------------------------------------
# retired.json is trusted whoever wrote it


def give_to_nobody(directory: Path) -> None:
    """What an earlier release left on a host with host_signing_certificate_owner set: <dir>, pairs/ and the pairs'
    directories (and the key files) given to the consumer. The layout is otherwise as the role made it."""
    for path in [directory, directory / "pairs", *(directory / "pairs").iterdir()]:
        os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
    for key in (directory / "pairs").glob("*/signing.key"):
        os.chown(key, NOBODY.pw_uid, NOBODY.pw_gid)


def test_a_ledger_written_by_the_consumer_does_not_make_root_retire_a_certificate_the_host_never_made(tmp_path):
    """on a host an earlier release gave <dir> to the consumer (the upgrade case the role takes back), the
    consumer writes <dir>/retired.json listing the fingerprint of any other certificate of the IAM user (certificates
    are public: one an administrator uploaded for another tool, a break-glass certificate, or - in runs split by
    --limit - another host's). The role takes the layout back as "as the role made it" without looking at who wrote
    the ledger, trusts it as "certificates this host retired", counts the listed certificate as this host's own,
    finds it active without a pair on the host (an "orphan"), and deactivates it in IAM - on a run where nothing is
    due. The consumer, who cannot call IAM, made root disable a certificate the host never made."""
    iam, fresh = Iam(), list(new_pairs())
    directory = provisioned(iam, fresh)
    stranger = _material("uploaded-by-an-administrator", "long", None)
    stranger_id = iam.add(stranger, "Active")
    give_to_nobody(directory)
    os.unlink(directory / "retired.json") if (directory / "retired.json").exists() else None
    forged = directory / "retired.json"
    forged.write_text(json.dumps({"retired": [{"fingerprint_sha256": stranger.fingerprint}]}))
    os.chown(forged, NOBODY.pw_uid, NOBODY.pw_gid)  # written by the consumer, in its own directory

    run = run_role(directory, iam, options(owner="nobody"), LATER, fresh)
    assert iam.by_id(stranger_id)["status"] == "Active", (
        f"root deactivated {stranger_id}, listed only in a retired.json the consumer wrote: {run.plan.summary()}"
    )


# ---------------------------------------------------------------------------------------------------------------
# a directory the role did not make is taken over


@pytest.mark.parametrize(
    "case",
    ["root's private directory, with a group", "the consumer's own directory, with an owner"],
)
def test_a_directory_the_role_did_not_make_keeps_its_owner_group_and_mode(tmp_path, case):
    """host_signing_certificate_dir pointed at a directory that already exists and holds other things
    (a typo, a directory shared with the service, /etc/ssl/private, the consumer's home or data directory). The
    planner looks only at the layout's own names in it, then "takes the directory back": it gives it to root, mode
    0750, group the consumer's. A root-only directory (0700) becomes readable by the consumer's group - every file
    in it that is not 0600 too; a directory of the consumer's becomes root's, and the consumer can no longer write
    its own files. DESIGN rule 10: the role acts only on what it made; issue 18: a directory an earlier release
    gave to the consumer is taken back only when everything in it is as the role made it."""
    directory = tmp_path / "existing"
    directory.mkdir(mode=0o700)
    (directory / "app.conf").write_text("password = not the role's\n")
    os.chmod(directory / "app.conf", 0o644)
    if case.startswith("root"):
        opts = options(group="nogroup")
    else:
        os.chown(directory, NOBODY.pw_uid, NOBODY.pw_gid)
        os.chown(directory / "app.conf", NOBODY.pw_uid, NOBODY.pw_gid)
        opts = options(owner="nobody")
    before = directory.stat()
    iam, fresh = Iam(), list(new_pairs())
    run = run_role(directory, iam, opts, NOW, fresh)
    after = directory.stat()
    assert (after.st_uid, after.st_gid, after.st_mode) == (before.st_uid, before.st_gid, before.st_mode), (
        f"{directory} (not made by the role) went from uid {before.st_uid} gid {before.st_gid} mode "
        f"{oct(before.st_mode & 0o7777)} to uid {after.st_uid} gid {after.st_gid} mode {oct(after.st_mode & 0o7777)}: "
        + run.plan.summary()
    )


# ---------------------------------------------------------------------------------------------------------------
# a live run on this machine loses its lock when its lease runs out, and its switch step never notices


def test_a_live_run_keeps_its_lock_and_a_second_run_never_undoes_what_its_switch_is_checking(tmp_path):
    """host_layout._holder_alive says a holder on this machine "is gone when its ansible process is; one
    elsewhere when its lease ran out", but it applies the lease to a live local process too. And the switch step
    takes the lock once, at its start: after a consumer check that outlasted the lease it switches back without
    looking whether another run took the directory over meanwhile. A consumer check slower than
    host_signing_certificate_lock_timeout (a self-test that waits for a service; a short lock_timeout chosen for a
    fast fleet), and a second run (cron, a second operator) during it: the second run takes over the lock, finds the
    switch "pending its check", checks, retires the old certificate and removes the old pair; then the first run's
    check fails and it points `current` back at the pair that is gone. The consumer is left with no key (dangling
    links), and the certificate it could fall back to is retired."""
    iam, fresh = Iam(), list(new_pairs())
    directory = provisioned(iam, fresh)
    lease = 60
    opts = options(threshold_days=364, lock_timeout=lease)
    facts = host_layout.look(str(directory), None, None, LATER.timestamp())
    plan = plan_host({**opts, "dir": str(directory)}, facts, [dict(r) for r in iam.records], LATER)
    assert plan.action == "rotate", plan.summary()
    args = plan.steps(facts["token"])
    me = os.getpid()
    alive = {**host_layout.controller_identity(), "pid": me, "started": host_layout.process_start(me)}
    clock = [LATER.timestamp()]
    step = host_layout.Step(facts["path"], {"id": "run-1", "controller": alive, "lease": lease}, lambda: clock[0])
    steps.begin(step, args["begin"])
    new = fresh.pop(0)
    target = directory / "pairs" / args["new_pair"]
    (target / "signing.key").write_bytes(new.key)
    os.chmod(target / "signing.key", 0o600)
    (target / "signing.pem").write_bytes(new.cert)
    iam.upload(new)
    second = []

    def slow_check_that_fails():
        # The check takes longer than the lease; meanwhile a second run (another process on this machine) starts.
        clock[0] += lease + 5
        later = datetime.datetime.fromtimestamp(clock[0], datetime.timezone.utc)
        second.append(run_role(directory, iam, options(), later, fresh))
        return "the consumer did not come up with the new pair"

    with pytest.raises(host_layout.LayoutError):
        steps.switch(step, args["switch"], slow_check_that_fails)
    view = consumer_view(directory)
    assert view is not None and view[0] == view[1], (
        f"the consumer is left without a key (current -> {os.readlink(directory / 'current')}, pairs: "
        f"{sorted(os.listdir(directory / 'pairs'))}); the second run: {second[0].plan.summary()}"
    )
    assert iam.by_fingerprint(view[2])["status"] == "Active", "the consumer's certificate is not active"
    assert second[0].plan.blocked and second[0].plan.error_code == "LockHeld", (
        "a second run took over the lock of a run whose ansible process is alive: " + second[0].plan.summary()
    )


# ---------------------------------------------------------------------------------------------------------------
# the directory right above <dir> is never checked


@pytest.mark.parametrize("parent", ["owned by the consumer", "writable by everyone"])
def test_a_parent_of_the_directory_that_another_user_can_write_is_refused(tmp_path, parent):
    """host_layout._unsafe_parent walks the components of dirname(<dir>) but checks each directory *before*
    stepping into the next one, so the last one - the directory that holds <dir> itself - is never looked at. A
    <dir> under the consumer's home or data directory (/home/signer/signing, /var/lib/signer/signing), or under a
    world-writable directory without the sticky bit, is accepted, although whoever can write that parent can swap
    <dir> for a link or another directory between the role's steps (see tests/e2e/test_review_18.py for what root
    then does through it). The grandparent in the same position is refused."""
    holder = tmp_path / "holder"
    holder.mkdir()
    if parent == "owned by the consumer":
        os.chown(holder, NOBODY.pw_uid, NOBODY.pw_gid)
    else:
        os.chmod(holder, 0o777)
    # One level deeper, the same directory is caught: the check works, but misses its last step.
    assert host_layout.real_location(str(holder / "below" / "signing"))[1] is not None
    facts = host_layout.look(str(holder / "signing"), None, None, NOW.timestamp())
    assert facts["problem"], f"{holder} ({parent}) holds <dir>, and the look found no problem with it"
    plan = plan_host({**options(), "dir": str(holder / "signing")}, facts, [], NOW)
    assert plan.blocked and plan.error_code == "HostDirectoryUnsafe", plan.summary()


# ---------------------------------------------------------------------------------------------------------------
# check mode describes a retirement that has no new pair and no consumer check


def test_check_mode_does_not_promise_a_consumer_check_for_a_run_that_makes_no_new_pair(tmp_path):
    """a run with nothing due that retires an orphan (a certificate of this host whose pair is gone)
    is previewed as "would be tidied up: not due ...; would deactivate <id> in IAM once the consumer works with the
    new pair": there is no new pair and no consumer check in that run; the certificate is deactivated straight away
    (HostPlan.consequences words every retirement the same). Issue 18 asked for check-mode wording that says what
    the run does."""
    iam, fresh = Iam(), list(new_pairs())
    directory = provisioned(iam, fresh)
    orphan = _material("made-here-key-lost", "long", (HOST, USER, str(SIGNING), ""))
    iam.add(orphan, "Active")
    plan = look_and_plan(directory, iam, options())
    assert plan.retire and not plan.switch_to, plan.summary()
    assert "new pair" not in plan.summary(), plan.summary()


# ---------------------------------------------------------------------------------------------------------------
# a crash inside the end step leaves a half-removed pair that no rerun removes


def test_a_crash_while_the_old_pair_is_removed_leaves_nothing_a_rerun_does_not_finish(tmp_path):
    """the end step removes the replaced pair file by file (remove_pair: unlink each, then rmdir). A
    crash (power cut, OOM kill) after signing.key went and before signing.pem did leaves pairs/<old> holding only the
    certificate. The next runs see an unusable pair whose certificate IAM still lists (inactive, retired by this
    host: it is in retired.json) and keep it - "kept pairs/<old>" on every run, for as long as IAM lists the
    certificate. Issue 18: whatever an interrupted run left is finished or discarded by the next run."""
    iam, fresh = Iam(), list(new_pairs())
    directory = provisioned(iam, fresh)
    old = os.readlink(directory / "current").split("/")[1]
    rotation = run_role(directory, iam, options(threshold_days=364), LATER, fresh, fail_at="end", kill=True)
    assert rotation.plan.action == "rotate" and rotation.failed_at == "end"
    # The end step, interrupted: next cleared, then the old pair's key removed, then the crash.
    os.unlink(directory / "next")
    os.unlink(directory / "pairs" / old / "signing.key")
    for seconds in (2, 3, 4):
        rerun = run_role(directory, iam, options(), LATER + datetime.timedelta(seconds=seconds), fresh)
        assert not rerun.plan.blocked, rerun.plan.summary()
    assert sorted(os.listdir(directory / "pairs")) == [os.readlink(directory / "current").split("/")[1]], (
        f"left on the host for good: {sorted(os.listdir(directory / 'pairs'))}; last run: {rerun.plan.summary()}"
    )


# ---------------------------------------------------------------------------------------------------------------
# the guide still promises consistent reads of two files


def test_the_guide_does_not_promise_consistent_reads_of_two_files_and_names_a_way_that_is(tmp_path):
    """issue 18 found that a consumer opening signing.key and then signing.pem can get a
    new key with an old certificate across a switch, and asked for one documented, tested way to read a consistent
    pair. The layout is unchanged (two links through `current`), and docs/guides/host_rotation.md still says "a
    consumer never reads a new key with an old certificate". Shown here with the real switch step: a read of
    signing.key, the switch, a read of signing.pem - a mismatched pair; reading both through one resolution of
    `current` is consistent, but the guide does not say so."""
    iam, fresh = Iam(), list(new_pairs())
    directory = provisioned(iam, fresh)
    key_before = (directory / "signing.key").read_bytes()
    run_role(directory, iam, options(force=True), LATER, fresh)  # a rotation between the two reads
    pem_after = (directory / "signing.pem").read_text()
    from ansible_collections.certops.aws.plugins.module_utils.certificate import (
        parse_certificate,
        private_key_public_sha256,
    )

    assert private_key_public_sha256(key_before) != parse_certificate(pem_after).public_key_sha256  # mismatched
    guide = (Path(__file__).resolve().parents[4] / "docs" / "guides" / "host_rotation.md").read_text()
    assert "a consumer never reads a new key with an old certificate" not in " ".join(guide.split()), (
        "the guide still promises consistent reads of the two stable paths"
    )


def test_what_a_step_that_died_in_the_middle_left_is_swept_by_the_next_run(tmp_path):
    """A pair is renamed aside before its files are removed, and links and files are replaced through temporary names:
    a step killed in between leaves pairs/.removing-<name> (half empty) or .current.<pid>.tmp. The next run, even one
    with nothing due, removes them, and says so in check mode."""
    iam, fresh = Iam(), list(new_pairs())
    directory = provisioned(iam, fresh)
    tombstone = directory / "pairs" / ".removing-20250101T000000.000000Z"
    tombstone.mkdir(mode=0o750)
    (tombstone / "signing.pem").write_bytes(_material("removed", "long", (HOST, USER, str(SIGNING), "")).cert)
    (directory / ".current.4242.tmp").symlink_to("pairs/whatever")
    plan = look_and_plan(directory, iam, options())
    assert plan.action == "finish", plan.summary()
    assert "would remove .current.4242.tmp, pairs/.removing-20250101T000000.000000Z, left by an interrupted step" in (
        plan.summary()
    )
    run_role(directory, iam, options(), LATER, fresh)
    assert not tombstone.exists() and not os.path.lexists(directory / ".current.4242.tmp")
    assert not look_and_plan(directory, iam, options(), LATER + datetime.timedelta(seconds=1)).changes


# ---------------------------------------------------------------------------------------------------------------
# Listings of another account, and what a ledger entry proves


def interrupted_rotation(directory: Path, iam: Iam, fresh: list) -> tuple:
    """A due rotation whose consumer check fails (the commonest way a rotation stops): switched back, both
    certificates active, and the certificate in use written to retired.json (what the run set out to retire)."""
    working = consumer_view(directory)
    run = run_role(directory, iam, options(threshold_days=364), LATER, fresh, check_fails=True)
    assert run.plan.action == "rotate" and run.failed_at, run.plan.summary()
    assert consumer_view(directory) == working and iam.by_fingerprint(working[2])["status"] == "Active"
    ledger = json.loads((directory / "retired.json").read_text())["retired"]
    assert working[2] in [item["fingerprint_sha256"] for item in ledger]
    return working


def test_another_accounts_certificate_made_for_this_host_does_not_make_its_listing_the_right_one():
    """The same host holds the same user name in two accounts, from two directories (or two inventories give two
    machines one name, with account labels). A run of one directory with the other account's profile, after a
    rotation that stopped, finds there a certificate made for this host and user - the other identity's. It proves
    nothing about this directory: the run is refused, the working key stays, the other identity's certificate too."""
    account_a, fresh = Iam(), list(new_pairs())
    directory = provisioned(account_a, fresh)
    working = interrupted_rotation(directory, account_a, fresh)
    account_b = Iam()
    other_identity = _material("host-1-alice-in-account-b", "long", (HOST, USER, "/etc/certops/other", ""))
    other_id = account_b.add(other_identity, "Active")
    wrong = run_role(directory, account_b, options(), LATER + SECOND, fresh)
    assert wrong.plan.blocked and wrong.plan.error_code == "HostCertificateUnknown", wrong.plan.summary()
    assert working[2] in held_fingerprints(directory) and account_b.by_id(other_id)["status"] == "Active"


def test_a_staged_pair_is_not_discarded_on_a_listing_not_known_to_be_the_right_one():
    """A first run stops after its upload (the new pair staged, its certificate active in account A). A run with
    account B's profile lacks that certificate: that proves nothing, so the staged pair is kept (not switched to);
    once a listing is known to be the right one, a pair made here that it lacks was never uploaded, and goes."""
    account_a, fresh = Iam(), list(new_pairs())
    first = run_role(SIGNING, account_a, options(), NOW, fresh, fail_at="switch")
    assert first.plan.action == "provision" and first.failed_at == "switch"
    staged_fingerprint = account_a.records[0]["fingerprint_sha256"]
    wrong = run_role(SIGNING, Iam(), options(), LATER, fresh)
    assert staged_fingerprint in held_fingerprints(SIGNING), wrong.plan.summary()


def test_a_pair_whose_certificate_someone_else_deleted_in_iam_stays_on_the_host():
    """After a rotation whose consumer check failed, retired.json names the certificate in use as one the run set out
    to deactivate. An administrator then deletes it in IAM (incident response: the key is evidence). Only a deletion
    this host set out to make explains a certificate missing from the listing: the pair stays, the host is refused."""
    iam, fresh = Iam(), list(new_pairs())
    directory = provisioned(iam, fresh)
    working = interrupted_rotation(directory, iam, fresh)
    iam.records.remove(iam.by_fingerprint(working[2]))  # the administrator, not this host
    rerun = run_role(directory, iam, options(), LATER + SECOND, fresh)
    assert working[2] in held_fingerprints(directory), rerun.plan.summary()
    assert rerun.plan.blocked and rerun.plan.error_code == "HostCertificateUnknown"


# ---------------------------------------------------------------------------------------------------------------
# What the first step checks, and what it trusts


def test_a_parent_made_by_another_user_after_the_look_stops_the_step_before_anything_is_made_in_it(monkeypatch):
    """<dir> under a sticky world-writable directory, its parent missing at the look: another user who makes that
    parent between the look and the first step (it only has to win one race) would own the directory holding <dir>
    and could swap <dir> for a link before community.crypto writes into it. The step refuses; nothing is made."""
    sticky = SIGNING.parent / "sticky"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    directory = sticky / "certops" / "signing"
    facts = host_layout.look(str(directory), None, None, NOW.timestamp())
    assert facts["problem"] is None, facts["problem"]
    plan = plan_host({**options(), "dir": str(directory)}, facts, [], NOW)
    assert plan.action == "provision" and plan.create_dir, plan.summary()
    checked = host_layout.real_location

    def another_user_wins_the_race(path):
        found = checked(path)
        parent = sticky / "certops"
        if not parent.exists():
            parent.mkdir(mode=0o755)
            os.chown(parent, NOBODY.pw_uid, NOBODY.pw_gid)
        return found

    monkeypatch.setattr(host_layout, "real_location", another_user_wins_the_race)
    step = host_layout.Step(facts["path"], {"id": "run-1", "controller": {}, "lease": 60}, NOW.timestamp)
    with pytest.raises(host_layout.LayoutError, match="belongs to uid 65534"):
        steps.begin(step, plan.steps(facts["token"])["begin"])
    assert not directory.exists()


@pytest.mark.parametrize("claim", ["process 1 of this machine, no expiry", "an expiry of NaN"])
def test_a_lock_the_consumer_wrote_is_not_believed(claim):
    """On a host an earlier release gave <dir> to the consumer, the consumer writes rotation.lock itself, claiming a
    holder that lives for ever. A lock that is not the runner's own file is refused as not made by the role (nothing
    is done, and the message says so), never taken for another run that holds the directory."""
    iam, fresh = Iam(), list(new_pairs())
    directory = provisioned(iam, fresh)
    give_to_nobody(directory)
    if claim.startswith("process 1"):
        holder = {**host_layout.controller_identity(), "pid": 1, "started": host_layout.process_start(1)}
        text = json.dumps({"run": "forged", "controller": holder, "acquired": "2026-01-01T00:00:00Z"})
    else:
        text = '{"run": "forged", "controller": {}, "acquired": "2026-01-01T00:00:00Z", "expires": NaN}'
    lock = directory / "rotation.lock"
    lock.write_text(text)
    os.chown(lock, NOBODY.pw_uid, NOBODY.pw_gid)
    plan = look_and_plan(directory, iam, options(owner="nobody"), LATER + datetime.timedelta(days=30))
    assert plan.blocked and plan.error_code == "HostLayoutForeign", plan.summary()
    assert "rotation.lock is not a file of the user the role runs as" in plan.reason
    os.chown(lock, 0, 0)  # the runner's own, but its expiry is no number: not believed either
    if claim.endswith("NaN"):
        facts = host_layout.look(str(directory), None, None, LATER.timestamp())
        assert facts["lock"]["alive"] is False


def test_a_directory_that_gains_a_file_of_another_tool_after_the_look_keeps_its_owner_group_and_mode():
    """A root-only directory, empty at the look, that another tool writes a file into before the first step: the step
    refuses (the directory is not as the plan saw it), and the directory keeps its group and mode."""
    directory = SIGNING
    directory.mkdir(mode=0o700)
    facts = host_layout.look(str(directory), None, "nogroup", NOW.timestamp())
    plan = plan_host({**options(group="nogroup"), "dir": str(directory)}, facts, [], NOW)
    assert any(change["path"] == "." for change in plan.modes_before), plan.summary()
    (directory / "db-password").write_text("not the role's\n")
    os.chmod(directory / "db-password", 0o644)
    before = directory.stat()
    step = host_layout.Step(facts["path"], {"id": "run-1", "controller": {}, "lease": 60}, NOW.timestamp)
    with pytest.raises(host_layout.LayoutError) as refused:
        steps.begin(step, plan.steps(facts["token"])["begin"])
    assert refused.value.code == "HostChanged"
    after = directory.stat()
    assert (after.st_gid, after.st_mode) == (before.st_gid, before.st_mode)
