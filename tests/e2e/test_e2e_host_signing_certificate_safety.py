"""The role certops.aws.host_signing_certificate where it could hurt: it runs as root on every host that signs.

Nothing it did not make is acted on (links out of the directory, a directory of another user), nothing another host
holds is retired (runs split by --limit), a wrong user name or account leaves the working key, one run at a time,
and a run killed after any step leaves nothing a rerun does not finish.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import tempfile
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest

from tests.e2e.helpers import REPO, upload
from tests.e2e.host_fleet import (
    failure,
    host_pair,
    id_of,
    make_pair,
    outcome,
    recap,
    results,
    snapshot,
    statuses,
    write_pair,
)

# IAM lists a write a moment later: every scenario here meets a small consistency delay.
pytestmark = [pytest.mark.e2e, pytest.mark.consistency_delay(0.3)]

NOBODY = pwd.getpwnam("nobody")
DONE_LAYOUT = ["current", "pairs", "retired.json", "signing.key", "signing.pem"]


def owner_and_mode(path: Path) -> tuple[int, int, int]:
    info = path.lstat()
    return info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)


def outside_files(root: Path) -> dict[str, Path]:
    """Files and a directory outside every signing directory, root's own, that a link could lead to."""
    outside = root / "outside"
    (outside / "tree" / "deep").mkdir(parents=True)
    secret = make_pair("root-only", days=300)
    (outside / "root.key").write_text(secret.key)
    os.chmod(outside / "root.key", 0o600)
    (outside / "root.pem").write_text(secret.cert)
    os.chmod(outside / "root.pem", 0o644)
    (outside / "tree" / "deep" / "keep.txt").write_text("not the role's")
    os.chmod(outside / "tree", 0o700)
    return {"key": outside / "root.key", "pem": outside / "root.pem", "tree": outside / "tree"}


def lchown_to_nobody(path: Path) -> None:
    os.lchown(path, NOBODY.pw_uid, NOBODY.pw_gid)


LINKS = ("key", "pem", "pairs", "previous", "consumer-link", "dir-link")


def test_links_out_of_the_directory_are_refused_and_what_they_lead_to_stays_as_it_was(fleet, iam, tmp_path):
    targets = outside_files(tmp_path)
    before = {
        path: (owner_and_mode(path), snapshot(path) if path.is_dir() else path.read_bytes())
        for path in targets.values()
    }
    # Each host was rotated by the role once, without an owner (host-<link>) or with one (host-<link>-owned); then
    # its layout was changed as a consumer with write access could.
    hosts = {}
    for link in LINKS:
        hosts[f"host-{link}"] = fleet.add(f"host-{link}")
        hosts[f"host-{link}-owned"] = fleet.add(f"host-{link}-owned", owner="nobody")
    first = fleet.run()
    assert first.rc == 0, first.output
    for directory in hosts.values():
        host_pair(directory)  # each host signs with a pair of its own
    iam_before = {name: statuses(iam, fleet.user(name)) for name in hosts}
    for suffix in ("", "-owned"):
        replace_with_links({link: hosts[f"host-{link}{suffix}"] for link in LINKS}, targets)

    layouts = {name: snapshot(directory.parent) for name, directory in hosts.items()}
    for check in (True, False):
        run = fleet.run(check=check, host_signing_certificate_force=True)
        assert run.rc == 2, run.output
        for name in hosts:
            assert recap(run)[name]["failed"] == 1, name
            assert results(run)[name]["action"] == "blocked", name
            assert snapshot(hosts[name].parent) == layouts[name], f"{name}: the role changed something"
            assert statuses(iam, fleet.user(name)) == iam_before[name], name
            message = failure(run, name)
            if name.startswith("host-dir-link"):
                assert "is a link: give host_signing_certificate_dir as the directory itself" in message, message
            else:
                assert "the role acts only on the links and files it made" in message, message
        after = {
            path: (owner_and_mode(path), snapshot(path) if path.is_dir() else path.read_bytes())
            for path in targets.values()
        }
        assert after == before, "a file outside the signing directories changed"


def replace_with_links(hosts: dict[str, Path], targets: dict[str, Path]) -> None:
    """What a consumer with write access to a signing directory could do: each host gets one kind of link."""
    key_link = hosts["key"] / "signing.key"
    key_link.unlink()
    key_link.symlink_to(targets["key"])
    pem_link = hosts["pem"] / "signing.pem"
    pem_link.unlink()
    pem_link.symlink_to(targets["pem"])
    pairs = hosts["pairs"] / "pairs"
    shutil.move(pairs, hosts["pairs"] / "pairs.moved")
    pairs.symlink_to(targets["tree"])
    previous = hosts["previous"] / "previous"
    previous.symlink_to(targets["tree"])
    # A link with the layout's own target, but made by the consumer (not by the user the role runs as).
    consumer_link = hosts["consumer-link"] / "signing.key"
    consumer_link.unlink()
    consumer_link.symlink_to("current/signing.key")
    lchown_to_nobody(consumer_link)
    # The directory itself replaced by a link to a directory outside.
    moved = hosts["dir-link"].parent / "signing.moved"
    hosts["dir-link"].rename(moved)
    hosts["dir-link"].symlink_to(targets["tree"])


def test_the_directory_and_its_links_stay_the_runners_and_only_the_key_is_the_consumers(fleet, iam, tmp_path):
    root_uid, nogroup = os.geteuid(), NOBODY.pw_gid
    # host-a: provisioned with an owner; its parents do not exist yet.
    a = fleet.add("host-a", directory="missing/parents/signing", owner="nobody")
    # host-b: what an earlier release left: the directory, pairs/ and the pair's directory given to the consumer.
    b = fleet.add("host-b", owner="nobody")
    old = make_pair("b-old", days=5)
    pair = b / "pairs" / "20250101T000000.000000Z"
    write_pair(pair, old)
    (b / "current").symlink_to("pairs/20250101T000000.000000Z")
    for name in ("signing.key", "signing.pem"):
        (b / name).symlink_to(f"current/{name}")
    for path in (b, b / "pairs", pair, pair / "signing.key", pair / "signing.pem"):
        os.chown(path, NOBODY.pw_uid, nogroup)
    os.chmod(pair, 0o700)
    old_id = upload(iam, old.cert, user_name=fleet.user("host-b"))

    run = fleet.run()
    assert run.rc == 0, run.output
    for directory in (a, b):
        current = Path(os.path.realpath(directory / "current"))
        for path in (directory, directory / "pairs", current):
            assert owner_and_mode(path) == (root_uid, nogroup, 0o750), path
        for link in ("signing.key", "signing.pem", "current"):
            assert (directory / link).lstat().st_uid == root_uid, link
        assert owner_and_mode(current / "signing.key") == (NOBODY.pw_uid, nogroup, 0o600)
        assert owner_and_mode(current / "signing.pem")[0] == root_uid
    for parent in (a.parent, a.parent.parent):
        assert owner_and_mode(parent) == (root_uid, os.getegid(), 0o755), parent
    assert statuses(iam, fleet.user("host-b")) == {
        old_id: "Inactive",
        id_of(iam, fleet.user("host-b"), host_pair(b).cert): "Active",
    }
    assert not pair.exists()


def test_hosts_of_one_iam_user_rotated_in_runs_split_by_limit_never_retire_each_others_certificate(fleet, iam):
    # Two hosts of one IAM user (as --limit or AWX job slicing would see them: one at a time, so no run sees both).
    a = fleet.add("host-a", user_name="shared-user")
    b = fleet.add("host-b", user_name="shared-user", create_user=False, validity_days=35)
    assert fleet.run(limit="host-a").rc == 0
    assert fleet.run(limit="host-b").rc == 0
    a_id = id_of(iam, "shared-user", host_pair(a).cert)
    b_pair = host_pair(b)
    b_id = id_of(iam, "shared-user", b_pair.cert)
    assert statuses(iam, "shared-user") == {a_id: "Active", b_id: "Active"}
    # host-a's certificate is deactivated (a suspected leak); host-b's is within 40 days of its expiry.
    iam.update_signing_certificate(UserName="shared-user", CertificateId=a_id, Status="Inactive")

    for check in (True, False):
        run = fleet.run(limit="host-a", check=check, host_signing_certificate_threshold_days=40)
        assert run.rc == 0, run.output
        entry = results(run)["host-a"]
        assert b_id not in entry["retired"] and b_id not in entry["deleted_to_make_room"], entry
    a_new = id_of(iam, "shared-user", host_pair(a).cert)
    # host-a deleted its own inactive certificate to make room; host-b's pair still signs with an active certificate.
    assert statuses(iam, "shared-user") == {b_id: "Active", a_new: "Active"}
    assert host_pair(b) == b_pair

    # host-b's own run, later, with host-b due: it may not retire host-a's certificate either, and IAM's quota is full
    # of two active certificates: it is blocked, nothing written.
    run = fleet.run(
        limit="host-b", host_signing_certificate_threshold_days=40, host_signing_certificate_validity_days=365
    )
    assert run.rc == 2 and results(run)["host-b"]["error_code"] == "LimitExceeded", run.output
    assert statuses(iam, "shared-user") == {b_id: "Active", a_new: "Active"} and host_pair(b) == b_pair


def test_a_user_name_given_as_a_role_parameter_to_two_hosts_stops_both(fleet, iam, tmp_path):
    first = fleet.add("host-a")
    second = fleet.add("host-b")
    iam.create_user(UserName="from-a-parameter")
    playbook = tmp_path / "role_parameter.yml"
    playbook.write_text(
        json.dumps(
            [
                {
                    "name": "A user name given to the role as a parameter",
                    "hosts": "signing_hosts",
                    "gather_facts": False,
                    "module_defaults": {"group/certops.aws.aws": {"endpoint_url": "{{ iam_endpoint_url }}"}},
                    "roles": [
                        {
                            "role": "certops.aws.host_signing_certificate",
                            "host_signing_certificate_user_name": "from-a-parameter",
                        }
                    ],
                }
            ]
        )
    )
    for check in (True, False):
        run = fleet.run(check=check, playbook=playbook)
        assert run.rc == 2, run.output
        assert "IAM user from-a-parameter is also the user of host-b in this play" in failure(run, "host-a")
        assert "IAM user from-a-parameter is also the user of host-a in this play" in failure(run, "host-b")
        assert not first.exists() and not second.exists() and statuses(iam, "from-a-parameter") == {}


def test_a_run_for_another_user_or_account_leaves_the_working_key(fleet, iam, tmp_path, iam_endpoint):
    a = fleet.add("host-a")
    assert fleet.run().rc == 0
    working = host_pair(a)
    working_id = id_of(iam, fleet.user("host-a"), working.cert)
    layout = snapshot(a)

    # Another user name (a typo, or another host's): the pair was made for user-host-a.
    iam.create_user(UserName="user-other")
    fleet.hosts["host-a"]["host_signing_certificate_user_name"] = "user-other"
    for check in (True, False):
        run = fleet.run(check=check)
        assert run.rc == 2, run.output
        assert results(run)["host-a"]["error_code"] == "HostPairOtherUser"
        assert "was made for IAM user user-host-a, and this run is for IAM user user-other" in failure(run, "host-a")
        assert snapshot(a) == layout and statuses(iam, "user-other") == {}
        assert statuses(iam, "user-host-a") == {working_id: "Active"}

    # The right user name in another account (a wrong profile): that account's user-host-a has no such certificate.
    fleet.hosts["host-a"]["host_signing_certificate_user_name"] = "user-host-a"
    config, credentials = tmp_path / "aws_config", tmp_path / "aws_credentials"
    shutil.copyfile(REPO / "docs" / "examples" / "aws_config.example", config)
    credentials.write_text("[auditor]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    env = {
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_ENDPOINT_URL_STS": iam_endpoint,
    }
    os.environ.update(env)
    try:
        session = boto3.session.Session(profile_name="development-audit")
        other_account = session.client("iam", endpoint_url=iam_endpoint)
        other_account.create_user(UserName="user-host-a")
    finally:
        for name in env:
            os.environ.pop(name)
    fleet.hosts["host-a"]["aws_profile"] = "development-audit"
    for check in (True, False):
        run = fleet.run(check=check, env=env)
        assert run.rc == 2, run.output
        assert results(run)["host-a"]["error_code"] == "HostCertificateUnknown"
        assert snapshot(a) == layout and host_pair(a) == working
    assert statuses(iam, "user-host-a") == {working_id: "Active"}


def test_two_runs_at_once_on_one_host_end_with_one_active_certificate_and_no_orphan(fleet, iam, tmp_path):
    # A due pair, and a consumer check that takes a while: the second run looks while the first holds the lock.
    b = fleet.add("host-b", check_command="sleep 3")
    old = make_pair("b-old", days=5)
    write_pair(b, old)
    old_id = upload(iam, old.cert, user_name=fleet.user("host-b"))
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: fleet.run(), range(2)))
    user = fleet.user("host-b")
    new = host_pair(b)
    new_id = id_of(iam, user, new.cert)
    assert statuses(iam, user) == {old_id: "Inactive", new_id: "Active"}, [run.output for run in runs]
    assert sorted(os.listdir(b)) == DONE_LAYOUT and len(os.listdir(b / "pairs")) == 1
    rotated = [run for run in runs if results(run)["host-b"]["new_certificate_id"]]
    assert len(rotated) == 1 and results(rotated[0])["host-b"]["new_certificate_id"] == new_id
    for run in runs:
        entry = results(run)["host-b"]
        if run is not rotated[0]:
            # The other run wrote nothing, and says so.
            assert entry["retired"] == [] and entry["deleted_to_make_room"] == [] and not entry["switched"], entry
            assert run.rc == 0 or entry["error_code"] in ("LockHeld", "HostChanged"), run.output
    assert recap(fleet.run())["host-b"]["changed"] == 0


STEPS = [
    "Take the lock, then prepare the directory and the new pair's place",
    "Make the new private key on the host (never read back)",
    "Make the self-signed certificate on the host",
    "Upload the new certificate and wait until IAM lists it as active",
    "Switch the stable paths to the new pair and check the consumer",
    "Retire the old certificates",
    "Clear up, remove the pairs whose certificates are retired, and unlock",
]


def test_a_run_killed_after_any_step_is_finished_by_the_next_run_without_debris(fleet, iam):
    # One host per step, each killed in a run of its own (--limit) right after that step; then one rerun of all.
    hosts, old_pairs, old_ids = {}, {}, {}
    for number, step in enumerate(STEPS, start=1):
        name = f"host-{number}"
        hosts[step] = fleet.add(name)
        old_pairs[step] = make_pair(f"{name}-old", days=5)
        write_pair(hosts[step], old_pairs[step])
        old_ids[step] = upload(iam, old_pairs[step].cert, user_name=fleet.user(name))

    for number, step in enumerate(STEPS, start=1):
        killed = fleet.run(kill_after=step, limit=f"host-{number}")
        assert killed.rc == -9, f"{step}: {killed.output}"
        consumer = host_pair(hosts[step])  # whatever the moment, the consumer reads a key and its certificate
        user = fleet.user(f"host-{number}")
        assert statuses(iam, user)[id_of(iam, user, consumer.cert)] == "Active", step

    rerun = fleet.run()
    assert rerun.rc == 0, rerun.output
    for number, step in enumerate(STEPS, start=1):
        directory, user = hosts[step], fleet.user(f"host-{number}")
        new = host_pair(directory)
        assert new.key != old_pairs[step].key, step
        assert statuses(iam, user) == {old_ids[step]: "Inactive", id_of(iam, user, new.cert): "Active"}, step
        assert sorted(os.listdir(directory)) == DONE_LAYOUT and len(os.listdir(directory / "pairs")) == 1, step
        assert all(old_pairs[step].key not in p.read_text() for p in directory.rglob("*") if p.is_file()), step
    again = fleet.run()
    for number in range(1, len(STEPS) + 1):
        assert recap(again)[f"host-{number}"]["changed"] == 0, again.stdout
        assert outcome(results(again)[f"host-{number}"])["action"] == "none"


@pytest.fixture
def shared_base():
    """A directory other users may traverse (pytest's own temporary directories are root's, 0700): /tmp/certops-*."""
    base = Path(tempfile.mkdtemp(prefix="certops-e2e-", dir="/tmp"))
    os.chmod(base, 0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def consumer_acts_after(tmp_path: Path, task: str, script: str) -> dict[str, str]:
    """The environment of a run in which user nobody runs `script` (sh -e) once `task` is done (the test callback
    certops_e2e_consumer)."""
    return {
        "CERTOPS_E2E_CONSUMER_AFTER": task,
        "CERTOPS_E2E_CONSUMER_SCRIPT": textwrap.dedent(script),
        "CERTOPS_E2E_CONSUMER_LOG": str(tmp_path / "consumer.log"),
    }


def test_a_directory_under_one_the_consumer_owns_is_refused_so_it_cannot_swap_it_between_steps(
    fleet, iam, tmp_path, shared_base
):
    # The consumer (nobody) owns the directory that holds <dir> (its home, its data directory). Were <dir> accepted
    # there, it could rename <dir> aside between two steps and put a link in its place leading, through
    # pairs/<the staged name>, to another service's root-only directory holding a signing.key: community.crypto takes
    # paths as text, would keep that key as the new one and give it to the consumer.
    home = shared_base / "home"
    home.mkdir()
    os.chown(home, NOBODY.pw_uid, NOBODY.pw_gid)
    other_service = shared_base / "other-service"
    other_service.mkdir(mode=0o700)
    victim = other_service / "signing.key"
    victim.write_text(make_pair("other-service", days=300).key)
    os.chmod(victim, 0o600)
    before = (owner_and_mode(victim), victim.read_bytes())
    fleet.add("host-a", owner="nobody")
    directory = home / "signing"
    fleet.hosts["host-a"]["host_signing_certificate_dir"] = str(directory)
    env = consumer_acts_after(
        tmp_path,
        "Take the lock, then prepare the directory and the new pair's place",
        f"""
        name=$(readlink {directory}/next); name=${{name#pairs/}}
        mkdir -p {home}/evil/pairs
        ln -s {other_service} {home}/evil/pairs/$name
        mv {directory} {home}/signing.aside
        ln -s evil {directory}
        """,
    )
    run = fleet.run(env=env)
    assert run.rc == 2, run.output
    assert results(run)["host-a"]["error_code"] == "HostDirectoryUnsafe"
    assert f"{home}, a parent of host_signing_certificate_dir, belongs to uid 65534" in failure(run, "host-a")
    assert not (tmp_path / "consumer.log").exists(), "the run got as far as a step"
    assert (owner_and_mode(victim), victim.read_bytes()) == before and not (other_service / "signing.pem").exists()
    assert not directory.exists() and statuses(iam, fleet.user("host-a")) == {}


def test_the_result_of_a_failed_run_says_only_what_that_run_did_when_the_role_runs_twice_on_a_host(
    fleet, iam, tmp_path
):
    # A host with two signing identities runs the role twice in one play: the first rotates and retires its old
    # certificate; the second fails at its consumer check. The second's result must not claim the first's writes.
    base = fleet.add("host-a")
    first_dir, second_dir = base.parent / "first", base.parent / "second"
    for user in ("identity-1", "identity-2"):
        iam.create_user(UserName=user)
    old = make_pair("identity-1-old", days=5)
    write_pair(first_dir, old)
    old_id = upload(iam, old.cert, user_name="identity-1")
    playbook = tmp_path / "two_identities.yml"
    identities = [
        {"host_signing_certificate_user_name": "identity-1", "host_signing_certificate_dir": str(first_dir)},
        {
            "host_signing_certificate_user_name": "identity-2",
            "host_signing_certificate_dir": str(second_dir),
            "host_signing_certificate_check_command": "false",
        },
    ]
    play = {
        "name": "Two signing identities on one host",
        "hosts": "signing_hosts",
        "gather_facts": False,
        "module_defaults": {"group/certops.aws.aws": {"endpoint_url": "{{ iam_endpoint_url }}"}},
        "roles": [{"role": "certops.aws.host_signing_certificate", **identity} for identity in identities],
    }
    playbook.write_text(json.dumps([play]))
    run = fleet.run(playbook=playbook)
    assert run.rc == 2, run.output
    assert statuses(iam, "identity-1")[old_id] == "Inactive"
    published = [
        entry["result"]["ansible_facts"]["host_signing_certificate_result"]
        for entry in run.tasks
        if "host_signing_certificate_result" in (entry["result"].get("ansible_facts") or {})
    ]
    second = published[-1]
    assert second["user_name"] == "identity-2" and second["error_code"] == "ConsumerCheckFailed", second
    assert second["retired"] == [] and second["removed_pairs"] == [] and not second["switched"], second["report"]
    assert second["new_certificate_id"] == id_of(iam, "identity-2", host_pair(second_dir / "next").cert)
