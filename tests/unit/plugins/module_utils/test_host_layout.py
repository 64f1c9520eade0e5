"""The host side of the role host_signing_certificate, on real directories: what the look reports, and what the
steps refuse to touch. The role runs as root; these tests do too (os.geteuid() is the runner)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from ansible_collections.certops.aws.plugins.module_utils import host_layout
from ansible_collections.certops.aws.plugins.module_utils.host_layout import LayoutError, Step, look
from ansible_collections.certops.aws.plugins.modules import host_signing_certificate_step as steps
from tests.unit.plugins.module_utils.host_world import NOW, dead_controller, pool, write_pair

NOBODY = 65534


def run(directory: Path, run_id: str = "run-1", controller: dict | None = None, lease: int = 1800) -> Step:
    identity = controller or dead_controller()
    return Step(str(directory), {"id": run_id, "controller": identity, "lease": lease}, NOW.timestamp)


@pytest.fixture
def signing(tmp_path) -> Path:
    directory = tmp_path / "signing"
    directory.mkdir(mode=0o750)
    return directory


def test_the_look_reads_links_as_links_and_never_what_they_lead_to(signing, tmp_path):
    secret = tmp_path / "elsewhere.key"
    secret.write_bytes(pool()[0].key)
    (signing / "signing.key").symlink_to(secret)
    (signing / "signing.pem").symlink_to("current/signing.pem")
    facts = look(str(signing), None, None, NOW.timestamp())
    assert facts["entries"]["signing.key"] == {**facts["entries"]["signing.key"], "type": "link", "target": str(secret)}
    assert facts["loose"] is None, "the look read through a link"
    assert "public_key_sha256" not in json.dumps(facts["entries"])


def test_the_look_never_returns_key_material(signing):
    material = pool()[0]
    (signing / "signing.key").write_bytes(material.key)
    (signing / "signing.pem").write_bytes(material.cert)
    text = json.dumps(look(str(signing), None, None, NOW.timestamp()))
    private_lines = [line for line in material.key.decode().splitlines() if line and "-----" not in line]
    assert all(line not in text for line in private_lines)
    assert '"public_key_sha256"' in text


def test_a_directory_that_is_a_link_or_whose_parent_others_may_write_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "linked").symlink_to(real)
    assert "is a link" in look(str(tmp_path / "linked"), None, None, NOW.timestamp())["problem"]
    open_parent = tmp_path / "open"
    open_parent.mkdir()
    os.chmod(open_parent, 0o777)
    problem = look(str(open_parent / "signing"), None, None, NOW.timestamp())["problem"]
    assert "is writable by other users" in problem
    os.chmod(open_parent, 0o1777)  # sticky, as /tmp: others cannot rename what is not theirs
    assert look(str(open_parent / "signing"), None, None, NOW.timestamp())["problem"] is None
    others = tmp_path / "others"
    others.mkdir()
    os.chown(others, NOBODY, NOBODY)
    assert "belongs to uid 65534" in look(str(others / "signing"), None, None, NOW.timestamp())["problem"]


def test_new_directories_and_files_are_never_open_to_others_while_they_are_made(signing, monkeypatch):
    created: list[tuple[str, int]] = []
    real_mkdir, real_open = os.mkdir, os.open

    def mkdir(path, mode=0o777, *args, **kwargs):
        created.append((str(path), mode))
        return real_mkdir(path, mode, *args, **kwargs)

    def opened(path, flags, mode=0o777, *args, **kwargs):
        if flags & os.O_CREAT:
            created.append((str(path), mode))
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "open", opened)
    old_umask = os.umask(0)
    try:
        material = pool()[0]
        (signing / "signing.key").write_bytes(material.key)
        (signing / "signing.pem").write_bytes(material.cert)
        facts = look(str(signing), None, None, NOW.timestamp())
        loose = facts["loose"]
        step = run(signing)
        steps.begin(
            step,
            {
                "token": facts["token"],
                "gid": None,
                "modes": [],
                "ledger": [{"fingerprint_sha256": "AA", "certificate_id": "X"}],
                "adopt": {
                    "name": "adopted-0123456789abcdef",
                    "fingerprint_sha256": loose["certificate"]["fingerprint_sha256"],
                    "public_key_sha256": loose["key"]["public_key_sha256"],
                    "key_uid": None,
                    "gid": None,
                },
                "stage": "20261204T000000.000000Z",
            },
        )
    finally:
        os.umask(old_umask)
    assert created, "nothing was made"
    assert all(mode & 0o077 == 0 for _path, mode in created), created
    key = signing / "pairs" / "adopted-0123456789abcdef" / "signing.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((signing / "pairs" / "20261204T000000.000000Z").stat().st_mode) == 0o700


def test_a_step_refuses_to_start_when_the_directory_changed_since_it_was_read(signing):
    facts = look(str(signing), None, None, NOW.timestamp())
    (signing / "stranger").write_text("appeared after the look")  # what the plan did not see
    with pytest.raises(LayoutError) as refused:
        steps.begin(run(signing, "run-1"), {"token": facts["token"], "stage": None})
    assert refused.value.code == "HostChanged" and not (signing / "rotation.lock").exists()
    facts = look(str(signing), None, None, NOW.timestamp())
    steps.begin(run(signing, "run-2"), {"token": facts["token"], "stage": None})
    (signing / "rotation.lock").unlink()
    os.chmod(signing, 0o700)  # the directory itself changed
    with pytest.raises(LayoutError) as refused:
        steps.begin(run(signing, "run-3"), {"token": facts["token"], "stage": None})
    assert refused.value.code == "HostChanged"
    assert not (signing / "rotation.lock").exists()


def test_a_lock_held_by_a_live_run_stops_another_and_a_dead_runs_lock_is_taken_over(signing):
    facts = look(str(signing), None, None, NOW.timestamp())
    alive = {"host": "controller.elsewhere", "boot_id": "x", "pid": 1, "started": "1"}
    steps.begin(run(signing, "first", controller=alive), {"token": facts["token"]})
    with pytest.raises(LayoutError) as refused:
        steps.begin(run(signing, "second"), {"token": look(str(signing), None, None, NOW.timestamp())["token"]})
    assert refused.value.code == "LockHeld"
    assert json.loads((signing / "rotation.lock").read_text())["run"] == "first"
    # The same holder, from this machine, whose ansible process has ended: gone, its lock is taken over.
    (signing / "rotation.lock").unlink()
    steps.begin(run(signing, "killed"), {"token": look(str(signing), None, None, NOW.timestamp())["token"]})
    later = run(signing, "later")
    steps.begin(later, {"token": look(str(signing), None, None, NOW.timestamp())["token"]})
    assert json.loads((signing / "rotation.lock").read_text())["run"] == "later"
    assert any("took over the lock" in done for done in later.done)


def test_a_run_whose_lock_was_taken_over_changes_nothing_more(signing):
    facts = look(str(signing), None, None, NOW.timestamp())
    first = run(signing, "first", lease=-1)  # its lease has run out at once
    steps.begin(first, {"token": facts["token"]})
    steps.begin(run(signing, "second"), {"token": look(str(signing), None, None, NOW.timestamp())["token"]})
    with pytest.raises(LayoutError) as refused:
        steps.end(first, {"remove": [], "clear_next": True})
    assert refused.value.code == "LockLost"


def test_remove_refuses_the_pair_in_use_and_pairs_the_role_did_not_make(signing):
    pairs = signing / "pairs"
    pairs.mkdir(mode=0o750)
    write_pair(pairs / "in-use", pool()[0])
    (signing / "current").symlink_to("pairs/in-use")
    write_pair(pairs / "with-notes", pool()[1])
    (pairs / "with-notes" / "notes.txt").write_text("someone's")
    write_pair(pairs / "nobodys", pool()[2])
    os.chown(pairs / "nobodys", NOBODY, NOBODY)
    dir_fd = os.open(signing, os.O_RDONLY | os.O_DIRECTORY)
    try:
        step = run(signing)
        for name, said in (
            ("in-use", "is the pair in use"),
            ("with-notes", "holds notes.txt"),
            ("nobodys", "not a directory the role made"),
        ):
            with pytest.raises(LayoutError, match=said):
                step.remove_pair(dir_fd, name)
            assert (pairs / name).exists()
    finally:
        os.close(dir_fd)


def test_owner_and_mode_are_never_changed_through_a_link_or_on_a_file_with_other_names(signing, tmp_path):
    pairs = signing / "pairs"
    pairs.mkdir(mode=0o750)
    write_pair(pairs / "p", pool()[0])
    outside = tmp_path / "outside.key"
    outside.write_text("root's")
    os.chmod(outside, 0o600)
    os.link(outside, pairs / "p" / "hard.key")
    (pairs / "p" / "soft.key").symlink_to(outside)
    dir_fd = os.open(signing, os.O_RDONLY | os.O_DIRECTORY)
    try:
        step = run(signing)
        with pytest.raises(LayoutError, match="other hard links"):
            step.set_modes(dir_fd, [{"path": "pairs/p/hard.key", "uid": NOBODY, "mode": 0o644}])
        with pytest.raises(OSError):  # O_NOFOLLOW: the link is not opened
            step.set_modes(dir_fd, [{"path": "pairs/p/soft.key", "uid": NOBODY, "mode": 0o644}])
    finally:
        os.close(dir_fd)
    assert outside.stat().st_uid == os.geteuid() and stat.S_IMODE(outside.stat().st_mode) == 0o600


def test_the_holder_of_a_lock_is_gone_when_its_process_on_this_machine_is_or_when_its_lease_ran_out():
    now = NOW.timestamp()
    me = {**host_layout.controller_identity(), "pid": os.getpid(), "started": host_layout.process_start(os.getpid())}
    elsewhere = {"host": "controller.elsewhere", "boot_id": "x", "pid": os.getpid(), "started": "1"}
    assert host_layout._holder_alive({"controller": me, "expires": now + 60}, now)[0]
    assert not host_layout._holder_alive({"controller": dead_controller(), "expires": now + 60}, now)[0]
    assert host_layout._holder_alive({"controller": elsewhere, "expires": now + 60}, now)[0]
    assert not host_layout._holder_alive({"controller": elsewhere, "expires": now - 1}, now)[0]


def test_a_holder_in_another_pid_namespace_of_this_machine_is_judged_by_its_lease_not_by_a_process_id():
    # A controller in a container of this machine has its name and boot ID, but its process IDs mean other processes
    # here: a dead-looking ID there proves nothing, so its lease decides.
    now = NOW.timestamp()
    container = {**dead_controller(), "pid_namespace": "pid:[1]"}
    assert host_layout._holder_alive({"controller": container, "expires": now + 60}, now)[0]
    assert not host_layout._holder_alive({"controller": container, "expires": now - 1}, now)[0]


def test_a_lock_that_claims_to_hold_for_longer_than_any_run_may_is_not_believed(signing):
    holder = {"host": "controller.elsewhere", "boot_id": "x", "pid": 1, "started": "1"}
    lock = {"run": "forever", "controller": holder, "acquired": "then", "expires": NOW.timestamp() + 10**9}
    (signing / "rotation.lock").write_text(json.dumps(lock))
    facts = look(str(signing), None, None, NOW.timestamp())
    assert facts["lock"]["alive"] is False and facts["lock"]["why"] == "it claims to hold for longer than any run may"
