"""The host rotation planner on examples: the decisions a user meets, and the words they read.

The hosts are real directories (host_world), read by the real look; IAM is a list of records.
"""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.certops.aws.plugins.module_utils.host_layout import look
from ansible_collections.certops.aws.plugins.module_utils.host_rotation import (
    hosts_sharing_users,
    outcome,
    plan_host,
)
from tests.unit.plugins.module_utils.host_world import NOW, SIGNING, Iam, fresh_world, options, pool, write_pair

MATERIALS = {material.label: material for material in pool()}


def material(label: str):
    return MATERIALS[label]


@pytest.fixture
def host():
    with fresh_world():
        SIGNING.mkdir(mode=0o750)
        yield SIGNING


def pair_in_use(directory, label):
    """A pair of the role's layout, in use."""
    (directory / "pairs").mkdir(mode=0o750, exist_ok=True)
    write_pair(directory / "pairs" / "20260101T000000.000000Z", material(label))
    (directory / "current").symlink_to("pairs/20260101T000000.000000Z")
    for name in ("signing.key", "signing.pem"):
        (directory / name).symlink_to(f"current/{name}")


def decide(directory, iam, **overrides):
    opts = {**options(**overrides), "dir": str(directory)}
    return plan_host(opts, look(str(directory), None, None, NOW.timestamp()), iam.records, NOW)


def test_a_host_without_a_pair_is_provisioned_and_the_users_other_certificates_stay(host):
    iam = Iam()
    elsewhere = iam.add(material("hand-long-1"), "Active")
    plan = decide(host / "new", iam)
    assert plan.action == "provision" and plan.upload and plan.create_dir
    assert plan.retire == () and plan.make_room == () and elsewhere not in plan.retire
    directory = str(host / "new").replace("/", "%2F")
    assert plan.steps("t")["subject_alt_name"] == [f"URI:urn:certops:aws:made-for:host-1:alice:{directory}:"]


def test_a_due_certificate_is_retired_after_the_switch_and_its_pair_removed(host):
    pair_in_use(host, "here-due-1")
    iam = Iam()
    due = iam.add(material("here-due-1"), "Active")
    plan = decide(host, iam)
    assert plan.action == "rotate" and plan.retire == (due,) and plan.remove == ("20260101T000000.000000Z",)
    assert plan.switch_from == "20260101T000000.000000Z" and plan.switch_to == plan.new_pair
    assert plan.summary() == (
        f"alice would be rotated to a new pair: the host's certificate {due} (Active, expires "
        f"{material('here-due-1').not_after}) is due; would deactivate {due} in IAM once the consumer works with the "
        "new pair; would remove pairs/20260101T000000.000000Z from the host (the key in it included)"
    )


@pytest.mark.parametrize(
    ("label", "code", "words"),
    [
        ("other-host-long-1", "HostPairCopied", "was made for host host-2, not host-1: a copy of another host's pair"),
        ("other-user-long-1", "HostPairOtherUser", "was made for IAM user bob, and this run is for IAM user alice"),
        ("hand-long-1", "HostCertificateUnknown", "is not one of IAM user alice's certificates"),
    ],
)
def test_a_pair_the_host_cannot_account_for_is_refused_and_nothing_is_planned(host, label, code, words):
    pair_in_use(host, label)
    iam = Iam()
    if label != "hand-long-1":
        iam.add(material(label), "Active")
    plan = decide(host, iam, force=True)
    assert plan.blocked and plan.error_code == code and words in plan.reason, plan.reason
    assert not plan.changes and plan.steps("t")["begin"] is None and plan.steps("t")["end"] is None


def test_another_hosts_certificate_is_never_retired_or_deleted_unless_forced(host):
    pair_in_use(host, "here-due-1")
    iam = Iam()
    mine = iam.add(material("here-due-1"), "Active")
    theirs = iam.add(material("other-host-due-1"), "Inactive")
    plan = decide(host, iam)
    assert plan.blocked and plan.error_code == "LimitExceeded"
    assert (
        f"{theirs} (Inactive, expires {material('other-host-due-1').not_after}), not made or retired by this host"
        in (plan.reason)
    )
    forced = decide(host, iam, force=True)
    assert forced.make_room == (theirs,) and forced.retire == (mine,)


def test_a_certificate_this_host_retired_before_may_be_deleted_to_make_room(host):
    # An adopted pair's certificate (placed by hand, no made-for name) was retired by this host a year ago.
    pair_in_use(host, "here-due-1")
    iam = Iam()
    retired = iam.add(material("hand-long-1"), "Inactive")
    mine = iam.add(material("here-due-1"), "Active")
    entry = {"fingerprint_sha256": material("hand-long-1").fingerprint, "certificate_id": retired}
    (host / "retired.json").write_text(json.dumps({"retired": [entry]}))
    plan = decide(host, iam)
    assert plan.make_room == (retired,) and plan.retire == (mine,)
    # What the run will retire is recorded before the first write in IAM, and what is gone afterwards is dropped.
    assert [item["certificate_id"] for item in plan.ledger] == [retired, mine]
    assert [item["certificate_id"] for item in plan.final_ledger] == [mine]


def test_a_pair_someone_else_deactivated_is_replaced_and_kept(host):
    pair_in_use(host, "here-long-1")
    iam = Iam()
    iam.add(material("here-long-1"), "Inactive")
    plan = decide(host, iam)
    assert plan.action == "rotate" and plan.retire == () and plan.remove == ()
    assert plan.keep == ("20260101T000000.000000Z",)
    assert "would keep pairs/20260101T000000.000000Z on the host" in plan.summary()


def test_the_outcome_reports_only_the_writes_that_took_effect(host):
    pair_in_use(host, "here-due-1")
    iam = Iam()
    due = iam.add(material("here-due-1"), "Active")
    plan = decide(host, iam).as_dict("t")
    upload = {"changed": True, "certificate": {"certificate_id": "NEW", "fingerprint_sha256": "FP"}}
    retire = {"failed": True, "results": [{"item": due, "changed": False, "failed": True}]}
    failure = {"msg": "Could not deactivate: access denied", "error_code": "AccessDenied"}
    done = {
        "begin": {"changed": True, "done": ["staged pairs/x as next"], "removed": []},
        "make_room": {"results": [], "skipped": True},
        "upload": upload,
        "switch": {"changed": True, "done": ["pointed current at pairs/x"]},
        "retire": retire,
        "end": None,
        "failure": failure,
        "failed_task": "Retire the old certificates",
    }
    result = outcome(plan, False, done)
    assert result["failed"] and result["error_code"] == "AccessDenied"
    assert result["retired"] == [] and result["removed_pairs"] == [] and result["new_certificate_id"] == "NEW"
    assert result["switched"] is True and result["kept_pairs"] == []
    assert result["report"].startswith("alice: Retire the old certificates failed: Could not deactivate: access denied")
    # Check mode: what the run would do.
    preview = outcome(plan, True, {})
    assert preview["retired"] == [due] and preview["removed_pairs"] == ["pairs/20260101T000000.000000Z"]
    assert preview["check_mode"] and preview["report"] == plan["summary"]


def test_hosts_that_name_one_iam_user_regardless_of_case_in_one_account_share_it():
    claims = [
        ("a", {"user_name": "Build", "account": None}),
        ("b", {"user_name": "build", "account": None}),
        ("c", {"user_name": "build", "account": "dev"}),
        ("d", {"user_name": "other", "account": None}),
        ("e", {"user_name": "BUILD", "account": "dev"}),
    ]
    assert hosts_sharing_users(claims) == {"a": ["b"], "b": ["a"], "c": ["e"], "e": ["c"]}


def test_a_directory_of_another_user_is_refused_unless_it_is_the_owners_from_an_earlier_release(host):
    pair_in_use(host, "here-long-1")
    iam = Iam()
    iam.add(material("here-long-1"), "Active")
    for path in (host, host / "pairs", host / "pairs" / "20260101T000000.000000Z"):
        os.chown(path, 65534, 65534)
    refused = decide(host, iam)
    assert refused.blocked and refused.error_code == "HostDirectoryUnsafe"
    assert "belongs to uid 65534, not to the user the role runs as" in refused.reason
    facts = look(str(host), "65534", None, NOW.timestamp())
    taken_back = plan_host({**options(owner="65534"), "dir": str(host)}, facts, iam.records, NOW)
    assert taken_back.action == "finish"
    assert [change["path"] for change in taken_back.modes_before] == [".", "pairs", "pairs/20260101T000000.000000Z"]
    assert all(change["uid"] == os.geteuid() for change in taken_back.modes_before)
