"""The role certops.aws.host_signing_certificate end to end, through docs/examples/host_signing_certificates.yml.

The hosts, their pairs and the readers of the outcome are in tests/e2e/host_fleet.py.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import sys
import threading
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.e2e.helpers import REPO, run_tool, upload
from tests.e2e.host_fleet import (
    Pair,
    failure,
    host_pair,
    id_of,
    key_mode,
    make_pair,
    outcome,
    recap,
    results,
    snapshot,
    statuses,
    write_pair,
)
from tools.loopback_proxy import LoopbackProxy, aws_error

# IAM lists a write a moment later: every scenario here meets a small consistency delay.
pytestmark = [pytest.mark.e2e, pytest.mark.consistency_delay(0.3)]

ROLE = REPO / "roles" / "host_signing_certificate"


def test_first_time_due_not_due_and_blocked_hosts_in_one_run(fleet, iam):
    # host-a: no pair yet, the user has no certificate; its directory has an odd name.
    a = fleet.add("host-a", directory="odd dir 'quoted' $(touch x) ü;*")
    # host-b: a pair made by hand whose certificate expires in 5 days.
    b = fleet.add("host-b")
    b_old = make_pair("b-old", days=5)
    write_pair(b, b_old)
    b_old_id = upload(iam, b_old.cert, user_name=fleet.user("host-b"))
    # host-c: a pair far from expiry.
    c = fleet.add("host-c")
    c_pair = make_pair("c", days=300)
    write_pair(c, c_pair)
    c_id = upload(iam, c_pair.cert, user_name=fleet.user("host-c"))
    # host-d: no pair, and the user's quota is full of active certificates: blocked.
    d = fleet.add("host-d")
    d_ids = [upload(iam, make_pair(f"d{i}", days=200).cert, user_name=fleet.user("host-d")) for i in (1, 2)]

    before = {name: snapshot(fleet.dir(name)) for name in fleet.hosts}
    iam_before = {name: statuses(iam, fleet.user(name)) for name in fleet.hosts}

    preview = fleet.run(check=True)
    assert preview.rc == 2, preview.output
    assert {name: snapshot(fleet.dir(name)) for name in fleet.hosts} == before, "check mode wrote on a host"
    assert {name: statuses(iam, fleet.user(name)) for name in fleet.hosts} == iam_before, "check mode wrote to IAM"
    predicted = results(preview)
    assert {name: entry["action"] for name, entry in predicted.items()} == {
        "host-a": "provision",
        "host-b": "rotate",
        "host-c": "none",
        "host-d": "blocked",
    }
    assert recap(preview)["host-a"]["changed"] == 1 and recap(preview)["host-c"]["changed"] == 0
    assert "cannot rotate: the user already has 2 active signing certificates" in predicted["host-d"]["reason"]

    real = fleet.run(verbosity=3)
    assert real.rc == 2, real.output
    done = results(real)
    for name in ("host-a", "host-b", "host-c", "host-d"):
        assert outcome(done[name]) == outcome(predicted[name]), name

    # host-a: provisioned; the key is 0600 and its certificate the user's only, active one.
    a_pair = host_pair(a)
    assert key_mode(a) == 0o600
    assert statuses(iam, fleet.user("host-a")) == {id_of(iam, fleet.user("host-a"), a_pair.cert): "Active"}
    assert x509.load_pem_x509_certificate(a_pair.cert.encode()).subject.rfc4514_string() == "CN=user-host-a"
    assert done["host-a"]["new_certificate_id"] == id_of(iam, fleet.user("host-a"), a_pair.cert)

    # host-b: rotated; the old certificate is retired and the old key is gone from the host.
    b_pair = host_pair(b)
    assert b_pair.key != b_old.key and key_mode(b) == 0o600
    b_new_id = id_of(iam, fleet.user("host-b"), b_pair.cert)
    assert statuses(iam, fleet.user("host-b")) == {b_old_id: "Inactive", b_new_id: "Active"}
    assert done["host-b"]["retired"] == [b_old_id]
    assert all(b_old.key not in p.read_text() for p in b.rglob("*") if p.is_file())
    assert sorted(os.listdir(b)) == ["current", "pairs", "retired.json", "signing.key", "signing.pem"]

    # host-c: left alone; host-d: failed alone, nothing written.
    assert snapshot(c) == before["host-c"] and statuses(iam, fleet.user("host-c")) == {c_id: "Active"}
    assert snapshot(d) == {} and not d.exists()
    assert statuses(iam, fleet.user("host-d")) == {d_ids[0]: "Active", d_ids[1]: "Active"}
    assert recap(real)["host-d"]["failed"] == 1
    assert all(recap(real)[name]["failed"] == 0 for name in ("host-a", "host-b", "host-c"))

    # No private key at -vvv: neither the keys the role made nor those it found.
    for pair in (a_pair, b_pair, b_old, c_pair):
        for line in pair.private_lines:
            assert line not in real.output and line not in json.dumps(real.tasks)

    again = fleet.run()
    assert again.rc == 2, again.output
    assert all(recap(again)[name]["changed"] == 0 for name in fleet.hosts), again.stdout
    assert host_pair(a) == a_pair and host_pair(b) == b_pair


def test_a_pair_iam_does_not_trust_is_replaced_or_refused_but_never_removed(fleet, iam):
    # host-a: no pair, but the user has an active certificate far from expiry (its key is elsewhere): provisioned,
    # and that certificate stays active.
    fleet.add("host-a")
    foreign = upload(iam, make_pair("a-elsewhere", days=300).cert, user_name=fleet.user("host-a"))
    # host-b: a pair whose certificate the user does not have (deleted in IAM, or the wrong user or account): the
    # role cannot account for it, so it refuses, and the key stays.
    b = fleet.add("host-b")
    b_old = make_pair("b-unknown", days=300)
    write_pair(b, b_old)
    # host-c: a pair whose certificate was deactivated in IAM (not by this host): never reactivated; a new pair is
    # switched to, and the old one is kept, since this host did not retire its certificate.
    c = fleet.add("host-c")
    c_old = make_pair("c-deactivated", days=300)
    write_pair(c, c_old)
    c_old_id = upload(iam, c_old.cert, user_name=fleet.user("host-c"), status="Inactive")
    b_before = snapshot(b)

    preview = fleet.run(check=True)
    run = fleet.run()
    assert run.rc == 2, run.output
    done = results(run)
    assert {name: entry["action"] for name, entry in done.items()} == {
        "host-a": "provision",
        "host-b": "blocked",
        "host-c": "rotate",
    }
    assert {name: outcome(entry) for name, entry in results(preview).items()} == {
        name: outcome(entry) for name, entry in done.items()
    }
    a_pair = host_pair(fleet.dir("host-a"))
    assert statuses(iam, fleet.user("host-a")) == {
        foreign: "Active",
        id_of(iam, fleet.user("host-a"), a_pair.cert): "Active",
    }
    assert done["host-b"]["error_code"] == "HostCertificateUnknown"
    assert "is not one of IAM user user-host-b's certificates" in failure(run, "host-b")
    assert snapshot(b) == b_before and statuses(iam, fleet.user("host-b")) == {}

    c_new = host_pair(c)
    assert c_new.key != c_old.key and not (c / "previous").exists()
    (kept,) = done["host-c"]["kept_pairs"]
    assert host_pair(c / kept) == c_old, "the pair whose certificate someone else deactivated left the host"
    assert statuses(iam, fleet.user("host-c")) == {
        c_old_id: "Inactive",
        id_of(iam, fleet.user("host-c"), c_new.cert): "Active",
    }

    again = fleet.run()
    assert again.rc == 2 and all(recap(again)[name]["changed"] == 0 for name in ("host-a", "host-c")), again.stdout
    assert snapshot(b) == b_before and host_pair(c / kept) == c_old


def test_a_host_whose_pair_cannot_be_used_fails_alone_and_untouched(fleet, iam):
    fine = fleet.add("host-a")
    problems = {}
    # The key is not the certificate's key.
    b = fleet.add("host-b")
    mismatched = make_pair("b", days=5)
    write_pair(b, Pair(make_pair("b-other", days=5).key, mismatched.cert))
    upload(iam, mismatched.cert, user_name=fleet.user("host-b"))
    problems["host-b"] = "signing.key is not the key of signing.pem"
    # The key is corrupt.
    c = fleet.add("host-c")
    corrupt = make_pair("c", days=5)
    write_pair(c, Pair(corrupt.key[:300] + "garbage\n-----END PRIVATE KEY-----\n", corrupt.cert))
    upload(iam, corrupt.cert, user_name=fleet.user("host-c"))
    problems["host-c"] = "signing.key is not a readable private key"
    # A certificate without its key.
    d = fleet.add("host-d")
    lonely = make_pair("d", days=5)
    d.mkdir(parents=True)
    (d / "signing.pem").write_text(lonely.cert)
    problems["host-d"] = "signing.pem exists but signing.key does not"
    # The certificate file is not a certificate.
    e = fleet.add("host-e")
    e_pair = make_pair("e", days=5)
    write_pair(e, Pair(e_pair.key, "not a certificate\n"))
    problems["host-e"] = "signing.pem is not a readable PEM certificate"

    before = {name: snapshot(fleet.dir(name)) for name in problems}
    iam_before = {name: statuses(iam, fleet.user(name)) for name in problems}
    for check in (True, False):
        run = fleet.run(check=check, verbosity=3)
        assert run.rc == 2, run.output
        counts = recap(run)
        assert counts["host-a"]["failed"] == 0 and all(counts[name]["failed"] == 1 for name in problems)
        for name, problem in problems.items():
            entry = results(run)[name]
            assert entry["action"] == "blocked" and entry["error_code"] == "HostPairUnusable", entry
            assert problem in entry["reason"], entry["reason"]
        assert {name: snapshot(fleet.dir(name)) for name in problems} == before
        assert {name: statuses(iam, fleet.user(name)) for name in problems} == iam_before
        for pair in (mismatched, corrupt, lonely, e_pair):
            for line in pair.private_lines[:-2]:
                assert line not in run.output and line not in json.dumps(run.tasks)
    assert len(statuses(iam, fleet.user("host-a"))) == 1 and host_pair(fine)


def test_null_and_false_options_count_as_not_given_and_bad_options_stop_before_any_read(fleet, iam):
    # Options given as null, false, "" or templated to null: the defaults apply.
    a = fleet.add(
        "host-a",
        threshold_days=None,
        force="{{ no_such_variable | default(none) }}",
        old_certificate_action=False,
        subject=None,
        validity_days=False,
        owner=False,
        group="{{ none }}",
        check_command="",
        check_tasks=False,
    )
    # Options that break the rules: the host fails before any call or file access.
    fleet.add("host-b", threshold_days=-1, key_size=1024, old_certificate_action="shred")
    fleet.hosts["host-b"]["host_signing_certificate_dir"] = "relative/dir"
    fleet.add("host-c", create_user=False, user_name=None)
    # A user that does not exist: the host fails at the read, before anything is written.
    e = fleet.add("host-e", create_user=False)
    # An ECC key and a subject of several attributes.
    f = fleet.add("host-f", key_type="ECC", subject={"commonName": "f", "organizationName": "Example"})
    # Two hosts of the same IAM user would retire each other's certificates: both stop.
    g = fleet.add("host-g", user_name="shared")
    h = fleet.add("host-h", create_user=False, user_name="shared")
    # A new certificate that would be due at once.
    i = fleet.add("host-i", threshold_days=400)
    # A key another user could read: made private again, nothing else changes.
    d = fleet.add("host-d")
    d_pair = make_pair("d", days=300)
    write_pair(d, d_pair, key_mode=0o644)
    d_id = upload(iam, d_pair.cert, user_name=fleet.user("host-d"))

    preview = fleet.run(check=True)
    assert preview.rc == 2, preview.output
    assert key_mode(d) == 0o644 and recap(preview)["host-d"]["changed"] == 1

    run = fleet.run()
    assert run.rc == 2, run.output
    assert results(run).get("host-a", {}).get("action") == "provision", run.stdout
    a_cert = x509.load_pem_x509_certificate(host_pair(a).cert.encode())
    assert a_cert.subject.rfc4514_string() == "CN=user-host-a"
    assert 364 <= (a_cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)).days <= 365
    assert key_mode(a) == 0o600
    assert "host_signing_certificate_dir must be a normalised absolute path" in run.stdout
    assert "host_signing_certificate_threshold_days must be a whole number of days, 0 or more" in run.stdout
    assert "host_signing_certificate_key_size must be a number of bits, 2048 or more" in run.stdout
    assert "host_signing_certificate_old_certificate_action must be deactivate or delete" in run.stdout
    # (ansible-core 2.19 lets a null through its own validation of a required option, and the role says it is
    # required; earlier versions refuse it themselves, naming it.)
    assert "host_signing_certificate_user_name" in failure(run, "host-c")
    assert recap(run)["host-b"]["failed"] == 1 and recap(run)["host-c"]["failed"] == 1
    assert not Path("relative").exists() and not (fleet.ansible.workdir / "relative").exists()
    assert key_mode(d) == 0o600 and host_pair(d) == d_pair and statuses(iam, fleet.user("host-d")) == {d_id: "Active"}
    assert recap(run)["host-d"]["changed"] == 1
    assert recap(run)["host-e"]["failed"] == 1 and not e.exists()
    assert "IAM user shared is also the user of host-h in this play: one IAM user per host" in run.stdout
    assert "IAM user shared is also the user of host-g in this play" in run.stdout
    assert "validity_days (365) must be greater than host_signing_certificate_threshold_days (400)" in run.stdout
    assert all(recap(run)[name]["failed"] == 1 for name in ("host-g", "host-h", "host-i"))
    assert not g.exists() and not h.exists() and not i.exists() and statuses(iam, "shared") == {}
    assert "IAM user 'user-host-e' does not exist" in run.stdout
    f_pair = host_pair(f)
    f_cert = x509.load_pem_x509_certificate(f_pair.cert.encode())
    assert f_cert.subject.rfc4514_string() == "O=Example,CN=f" and f_cert.public_key().curve.name == "secp384r1"
    assert statuses(iam, fleet.user("host-f")) == {id_of(iam, fleet.user("host-f"), f_pair.cert): "Active"}

    again = fleet.run()
    assert all(recap(again)[name]["changed"] == 0 for name in ("host-a", "host-d", "host-f")), again.stdout


CHECK_SCRIPT = """
import json, sys, boto3
directory, endpoint, user, log, code = sys.argv[1:6]
pem = open(directory + "/signing.pem").read()
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
listed = iam.list_signing_certificates(UserName=user)["Certificates"]
with open(log, "a") as handle:
    handle.write(json.dumps([pem, sorted(c["Status"] for c in listed)]) + "\\n")
sys.exit(int(code))
"""


def test_consumer_check_runs_on_the_new_pair_before_retirement_and_a_failure_switches_back(fleet, iam, tmp_path):
    b = fleet.add("host-b")
    old = make_pair("b-old", days=5)
    write_pair(b, old)
    old_id = upload(iam, old.cert, user_name=fleet.user("host-b"))
    script, log = tmp_path / "check.py", tmp_path / "check.log"
    script.write_text(CHECK_SCRIPT)

    def check(code: int) -> str:
        return f"{sys.executable} {script} {b} {fleet.endpoint} {fleet.user('host-b')} {log} {code}"

    fleet.hosts["host-b"]["host_signing_certificate_check_command"] = check(1)
    failed = fleet.run()
    assert failed.rc == 2, failed.output
    assert "switched back to the previous pair" in failed.stdout
    # The consumer saw the new pair while both certificates were active ...
    ((seen_pem, seen_statuses),) = [json.loads(line) for line in log.read_text().splitlines()]
    assert seen_pem != old.cert and seen_statuses == ["Active", "Active"]
    # ... and after the failed check, the host is back on its old pair, whose certificate is still active.
    assert host_pair(b) == old
    staged = host_pair(b / "next")
    assert staged.cert == seen_pem
    new_id = id_of(iam, fleet.user("host-b"), staged.cert)
    assert statuses(iam, fleet.user("host-b")) == {old_id: "Active", new_id: "Active"}

    # This time the check is a task file (the same script, passing).
    tasks = tmp_path / "check_consumer.yml"
    tasks.write_text(json.dumps([{"name": "Check the consumer", "ansible.builtin.command": check(0)}]))
    fleet.hosts["host-b"]["host_signing_certificate_check_command"] = None
    fleet.hosts["host-b"]["host_signing_certificate_check_tasks"] = str(tasks)
    resumed = fleet.run()
    assert resumed.rc == 0, resumed.output
    assert results(resumed)["host-b"]["action"] == "resume"
    assert host_pair(b) == staged and statuses(iam, fleet.user("host-b")) == {old_id: "Inactive", new_id: "Active"}
    assert not (b / "next").exists() and not (b / "previous").exists()
    assert all(old.key not in p.read_text() for p in b.rglob("*") if p.is_file())
    second_pem, second_statuses = json.loads(log.read_text().splitlines()[1])
    assert second_pem == staged.cert and second_statuses == ["Active", "Active"]


def test_a_failure_between_upload_and_switch_leaves_the_pair_and_its_certificate_then_a_rerun_carries_on(
    fleet, iam, iam_endpoint
):
    b = fleet.add("host-b", verify_retries=1, verify_delay=0)
    old = make_pair("b-old", days=5)
    write_pair(b, old)
    old_id = upload(iam, old.cert, user_name=fleet.user("host-b"))
    uploads = []

    def fail_after_upload(request):
        if request.action == "UploadSigningCertificate":
            uploads.append(request.number)
        elif uploads and request.action == "ListSigningCertificates":
            return aws_error("ServiceFailure", "injected failure after the upload", 500)
        return None

    with LoopbackProxy(iam_endpoint, fault=fail_after_upload) as proxy:
        broken = fleet.run(endpoint=proxy.url)
    assert broken.rc == 2 and len(uploads) == 1, broken.output
    assert host_pair(b) == old
    staged = host_pair(b / "next")
    new_id = id_of(iam, fleet.user("host-b"), staged.cert)
    assert statuses(iam, fleet.user("host-b")) == {old_id: "Active", new_id: "Active"}

    preview = fleet.run(check=True)
    assert results(preview)["host-b"]["action"] == "resume" and host_pair(b) == old
    resumed = fleet.run()
    assert resumed.rc == 0, resumed.output
    assert host_pair(b) == staged
    assert statuses(iam, fleet.user("host-b")) == {old_id: "Inactive", new_id: "Active"}
    assert results(resumed)["host-b"]["retired"] == [old_id]


def test_a_failure_at_the_retirement_keeps_the_old_pair_until_a_rerun_retires_its_certificate(fleet, iam, iam_endpoint):
    b = fleet.add("host-b")
    old = make_pair("b-old", days=5)
    write_pair(b, old)
    old_id = upload(iam, old.cert, user_name=fleet.user("host-b"))

    def refuse_updates(request):
        if request.action == "UpdateSigningCertificate":
            return aws_error("ServiceFailure", "injected failure", 500)
        return None

    with LoopbackProxy(iam_endpoint, fault=refuse_updates) as proxy:
        broken = fleet.run(endpoint=proxy.url)
    assert broken.rc == 2, broken.output
    # The host signs with its new pair; the old one stays, since its certificate is still active.
    new = host_pair(b)
    assert new.key != old.key and host_pair(b / "previous") == old
    new_id = id_of(iam, fleet.user("host-b"), new.cert)
    assert statuses(iam, fleet.user("host-b")) == {old_id: "Active", new_id: "Active"}

    preview = fleet.run(check=True)
    assert results(preview)["host-b"]["retired"] == [old_id] and recap(preview)["host-b"]["changed"] == 1
    finished = fleet.run()
    assert finished.rc == 0, finished.output
    assert statuses(iam, fleet.user("host-b")) == {old_id: "Inactive", new_id: "Active"}
    assert host_pair(b) == new and not (b / "previous").exists()
    assert all(old.key not in p.read_text() for p in b.rglob("*") if p.is_file())
    assert recap(fleet.run())["host-b"]["changed"] == 0


def test_ansible_doc_renders_the_role_and_the_example_inventory_parses(ansible_env):
    completed = run_tool(ansible_env, "ansible-doc", "-t", "role", "certops.aws.host_signing_certificate")
    # ansible-core 2.21 warns about its own internal collection (ansible._protomatter, which has no MANIFEST.json)
    # on every `ansible-doc -t role`, whatever the role: that one is not ours to fix.
    warnings = [
        line
        for line in completed.stderr.splitlines()
        if line.startswith("[WARNING]") and "/ansible/_internal/ansible_collections/ansible/_protomatter'" not in line
    ]
    assert completed.returncode == 0 and not warnings, completed.stderr
    text = completed.stdout.replace("*", "")  # ansible-doc marks names with * when it cannot colour them
    assert text.startswith("> ROLE: certops.aws.host_signing_certificate "), text[:200]
    assert "ENTRY POINT: main - Rotate an IAM user's signing certificate" in text
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    for option in spec:
        assert option in text, option

    examples = REPO / "docs" / "examples"
    inventory = run_tool(ansible_env, "ansible-inventory", "-i", str(examples / "signing_hosts.yml"), "--list")
    assert inventory.returncode == 0, inventory.stderr
    listed = json.loads(inventory.stdout)
    assert sorted(listed["signing_hosts"]["children"]) == ["account_development", "account_production"]
    profiles = (examples / "aws_config.example").read_text()
    for host, variables in listed["_meta"]["hostvars"].items():
        assert variables["host_signing_certificate_user_name"], host
        assert f"[profile {variables['aws_profile']}]" in profiles, host


def test_a_run_that_died_after_the_switch_checks_the_consumer_before_retiring(fleet, iam, tmp_path):
    # The layout a run leaves when it dies right after switching: current and next on the new pair, previous on
    # the old one, both certificates active.
    b = fleet.add("host-b")
    old, new = make_pair("b-old", days=5), make_pair("b-new", days=300)
    write_pair(b / "pairs" / "old", old)
    write_pair(b / "pairs" / "new", new)
    for link, target in (("current", "pairs/new"), ("next", "pairs/new"), ("previous", "pairs/old")):
        (b / link).symlink_to(target)
    for name in ("signing.key", "signing.pem"):
        (b / name).symlink_to(f"current/{name}")
    old_id = upload(iam, old.cert, user_name=fleet.user("host-b"))
    new_id = upload(iam, new.cert, user_name=fleet.user("host-b"))

    fleet.hosts["host-b"]["host_signing_certificate_check_command"] = "false"
    preview = fleet.run(check=True)
    assert results(preview)["host-b"]["action"] == "resume" and results(preview)["host-b"]["retired"] == [old_id]
    failed = fleet.run()
    assert failed.rc == 2 and "switched back to the previous pair" in failed.stdout, failed.output
    assert host_pair(b) == old and host_pair(b / "next") == new and not (b / "previous").exists()
    assert statuses(iam, fleet.user("host-b")) == {old_id: "Active", new_id: "Active"}

    fleet.hosts["host-b"]["host_signing_certificate_check_command"] = "true"
    passed = fleet.run()
    assert passed.rc == 0, passed.output
    assert host_pair(b) == new and statuses(iam, fleet.user("host-b")) == {old_id: "Inactive", new_id: "Active"}
    assert sorted(os.listdir(b)) == ["current", "pairs", "retired.json", "signing.key", "signing.pem"]
    assert os.listdir(b / "pairs") == ["new"]


def test_an_interrupted_forced_rotation_is_finished_by_a_rerun_without_force(fleet, iam, iam_endpoint):
    # force is given for one run (as documented); that run dies after the upload (host-b) or at the retirement
    # (host-c). The certificates of the old pairs are far from expiry: only the force made them due.
    b = fleet.add("host-b", verify_retries=1, verify_delay=0)
    c = fleet.add("host-c")
    old = {name: make_pair(f"{name}-old", days=300) for name in ("host-b", "host-c")}
    old_ids = {}
    for name, directory in (("host-b", b), ("host-c", c)):
        write_pair(directory, old[name])
        old_ids[name] = upload(iam, old[name].cert, user_name=fleet.user(name))
    uploads = []

    def fail_after_upload_or_at_retirement(request):
        user = request.param("UserName")
        if request.action == "UploadSigningCertificate":
            uploads.append(user)
        elif request.action == "UpdateSigningCertificate":
            return aws_error("ServiceFailure", "injected failure at the retirement", 500)
        elif request.action == "ListSigningCertificates" and user == fleet.user("host-b") and user in uploads:
            return aws_error("ServiceFailure", "injected failure after the upload", 500)
        return None

    with LoopbackProxy(iam_endpoint, fault=fail_after_upload_or_at_retirement) as proxy:
        broken = fleet.run(endpoint=proxy.url, host_signing_certificate_force=True)
    assert broken.rc == 2 and recap(broken)["host-b"]["failed"] == 1 and recap(broken)["host-c"]["failed"] == 1
    assert host_pair(b) == old["host-b"] and host_pair(c) != old["host-c"]

    preview = fleet.run(check=True)
    assert all(results(preview)[name]["retired"] == [old_ids[name]] for name in ("host-b", "host-c")), preview.stdout
    finished = fleet.run()
    assert finished.rc == 0, finished.output
    for name in ("host-b", "host-c"):
        directory = fleet.dir(name)
        new = host_pair(directory)
        assert new.key != old[name].key
        new_id = id_of(iam, fleet.user(name), new.cert)
        # The host signs with its new pair alone: the old certificate is retired, the old key is gone.
        assert statuses(iam, fleet.user(name)) == {old_ids[name]: "Inactive", new_id: "Active"}, name
        assert results(finished)[name]["retired"] == [old_ids[name]], name
        assert sorted(os.listdir(directory)) == ["current", "pairs", "retired.json", "signing.key", "signing.pem"], name
        assert all(old[name].key not in p.read_text() for p in directory.rglob("*") if p.is_file()), name
    assert all(counts["changed"] == 0 for counts in recap(fleet.run()).values())


def test_a_subject_the_certificate_cannot_carry_stops_the_host_before_anything_is_written(fleet, iam):
    # The default subject CN=<user name> of a user name longer than 64 characters (IAM allows 128; X.509 allows a
    # common name of 64), an unknown attribute, a country that is not two letters.
    problems = {
        "host-a": ({"user_name": "u" * 70}, "commonName"),
        "host-b": ({"subject": {"commonName": "b", "favouriteColour": "blue"}}, "favouriteColour"),
        "host-c": ({"subject": {"commonName": "c", "countryName": "USA"}}, "countryName"),
    }
    for name, (variables, _word) in problems.items():
        fleet.add(name, **variables)
    fine = fleet.add("host-d", subject={"commonName": 'd, "x=y" ü', "organizationName": "A=B, C"})
    for check in (True, False):
        run = fleet.run(check=check)
        assert run.rc == 2, run.output
        for name, (_variables, word) in problems.items():
            assert recap(run)[name]["failed"] == 1, name
            message = failure(run, name)
            assert "host_signing_certificate_subject" in message and word in message, message
            assert "Traceback" not in run.output
            assert not fleet.dir(name).exists(), name
            assert statuses(iam, fleet.user(name)) == {}, name
        assert recap(run)["host-d"]["failed"] == 0
    subject = x509.load_pem_x509_certificate(host_pair(fine).cert.encode()).subject
    assert subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == 'd, "x=y" ü'
    assert subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value == "A=B, C"


def test_hosts_whose_user_names_differ_only_in_case_share_one_iam_user_and_both_stop(fleet, iam):
    # IAM user names are unique regardless of case ("Shared" and "shared" name one user): two such hosts would
    # retire each other's certificates.
    g = fleet.add("host-g", user_name="Shared")
    h = fleet.add("host-h", create_user=False, user_name="shared")
    for check in (True, False):
        run = fleet.run(check=check)
        assert run.rc == 2, run.output
        assert "IAM user Shared is also the user of host-h in this play: one IAM user per host" in failure(
            run, "host-g"
        )
        assert "IAM user shared is also the user of host-g in this play" in failure(run, "host-h")
        assert not g.exists() and not h.exists() and statuses(iam, "Shared") == {}


def test_a_validity_beyond_the_year_9999_stops_the_host_with_a_message_naming_the_option(fleet, iam):
    f = fleet.add("host-f", validity_days=10**7)
    for check in (True, False):
        run = fleet.run(check=check)
        assert run.rc == 2, run.output
        message = failure(run, "host-f")
        assert "host_signing_certificate_validity_days must be at most" in message, message
        assert "cannot be valid after 9999-12-31; nothing was read or changed" in message, message
        assert "strftime" not in run.output and not f.exists() and statuses(iam, fleet.user("host-f")) == {}


def test_an_owner_or_group_the_host_does_not_have_stops_the_host_before_anything_is_written(fleet, iam):
    # host-a: no pair yet; host-b: a pair made by hand, due.
    a = fleet.add("host-a", owner="no-such-user-xyz")
    b = fleet.add("host-b", group="no-such-group-xyz")
    b_pair = make_pair("b", days=5)
    write_pair(b, b_pair)
    b_id = upload(iam, b_pair.cert, user_name=fleet.user("host-b"))
    before = snapshot(b)
    for check in (True, False):
        run = fleet.run(check=check)  # the runner also asserts: no warning, no traceback
        assert run.rc == 2, run.output
        assert "host_signing_certificate_owner: the host has no user no-such-user-xyz" in failure(run, "host-a")
        assert "host_signing_certificate_group: the host has no group no-such-group-xyz" in failure(run, "host-b")
        assert not a.exists() and statuses(iam, fleet.user("host-a")) == {}
        assert snapshot(b) == before and statuses(iam, fleet.user("host-b")) == {b_id: "Active"}


def test_the_same_user_name_in_two_accounts_is_two_users(fleet, iam):
    # One inventory, hosts grouped by account (as the guide shows): build-01 in production and build-01 in
    # development are two IAM users. Check mode, since the emulator has one account.
    fleet.add("host-p", user_name="build-01", account="production")
    fleet.add("host-d", create_user=False, user_name="build-01", account="development")
    # The same account declared twice (an account ID given as a number, then as text): one user, both stop.
    fleet.add("host-x", user_name="build-02", account=123456789012)
    fleet.add("host-y", create_user=False, user_name="BUILD-02", account="123456789012")
    run = fleet.run(check=True)
    assert run.rc == 2, run.output
    assert {name: entry["action"] for name, entry in results(run).items()} == {
        "host-p": "provision",
        "host-d": "provision",
        "host-x": "blocked",
        "host-y": "blocked",
    }
    assert "IAM user build-02 is also the user of host-y in this play" in failure(run, "host-x")
    assert "set host_signing_certificate_account per account" in failure(run, "host-y")


def test_a_consumer_reading_as_the_guide_shows_never_gets_a_key_with_another_pairs_certificate(fleet, iam):
    guide = (REPO / "docs" / "guides" / "host_rotation.md").read_text()
    (code,) = [
        block for block in re.findall(r"^```python\n(.*?)^```", guide, re.M | re.S) if "read_signing_pair" in block
    ]
    namespace: dict = {}
    exec(compile(code, "host_rotation.md", "exec"), namespace)  # the guide's own reader, as a consumer copies it
    read_signing_pair = namespace["read_signing_pair"]

    b = fleet.add("host-b")
    assert fleet.run().rc == 0
    reads, mismatches, stop = [0], [], threading.Event()

    def consumer() -> None:
        while not stop.is_set():
            key_pem, cert_pem = read_signing_pair(str(b))
            key = serialization.load_pem_private_key(key_pem, password=None)
            cert = x509.load_pem_x509_certificate(cert_pem)
            if key.public_key().public_numbers() != cert.public_key().public_numbers():
                mismatches.append(reads[0])
            reads[0] += 1

    reader = threading.Thread(target=consumer)
    reader.start()
    try:
        seen = {host_pair(b).cert}
        run = fleet.run(host_signing_certificate_force=True)
        assert run.rc == 0, run.output
        seen.add(host_pair(b).cert)
    finally:
        stop.set()
        reader.join(timeout=60)
    assert len(seen) == 2, "the forced run did not rotate"
    assert reads[0] > 100 and mismatches == [], (reads[0], mismatches)
