"""`make emulator` as the guides walk through it: start it, export what it prints, run one's own playbook and an ad
hoc command, run the multi-account example by its recipe, try the role host_signing_certificate on local hosts as
the host rotation guide writes it, stop it with Ctrl-C."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.helpers import TIMEOUT, assert_clean, fingerprint
from tools.emulator import CONSISTENCY_DELAY
from tools.harness import REPO, iam_client

pytestmark = pytest.mark.e2e

EXPORT = re.compile(r"^export (\w+)=(.*)$")


def source(script: Path, home: Path) -> dict[str, str]:
    """The environment a shell has after `source script`, starting from a minimal one (a home of its own)."""
    base = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    done = subprocess.run(
        ["bash", "-c", f"source {script} && env -0"], env=base, capture_output=True, check=True, timeout=30
    )
    return dict(item.split("=", 1) for item in done.stdout.decode().split("\0") if "=" in item)


def run_cleanly(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a command as a user of the emulator would; it must succeed without a traceback or warning."""
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert_clean(output)
    return done


@pytest.fixture
def make_emulator(tmp_path):
    """tools/emulator.py running as `make emulator` runs it; yields (printed text, state directory)."""
    state = tmp_path / "emulator"
    process = subprocess.Popen(
        [sys.executable, str(REPO / "tools" / "emulator.py")],
        cwd=REPO,
        env={**os.environ, "CERTOPS_EMULATOR_STATE": str(state), "CERTOPS_EMULATOR_PORT": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Stop the emulator with Ctrl-C"):
            break
    printed = "".join(lines)
    try:
        assert "Stop the emulator with Ctrl-C" in printed, printed
        yield printed, state, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)


def test_the_emulator_runs_ones_own_playbook_and_the_multi_account_example(make_emulator, tmp_path, pem_file):
    printed, state, process = make_emulator
    exported = dict(EXPORT.match(line).groups() for line in printed.splitlines() if EXPORT.match(line))
    endpoint = exported["AWS_URL"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", endpoint)
    assert exported["AWS_ACCESS_KEY_ID"] == "testing" and exported["AWS_CONFIG_FILE"] == os.devnull
    env = source(state / "env.sh", tmp_path)
    assert env["AWS_URL"] == endpoint and env["ANSIBLE_COLLECTIONS_PATH"].split(":")[0] == str(state / "collections")
    assert env["PATH"].startswith(str(Path(sys.executable).parent))

    # One's own playbook, in one's own directory, found by nothing but the exported environment.
    work = tmp_path / "mine"
    work.mkdir()
    _path, pem = pem_file("bob-own")
    (work / "bob.pem").write_text(pem)
    (work / "site.yml").write_text(
        "- name: Mine\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: Upload bob's certificate\n      certops.aws.iam_signing_certificate:\n"
        "        user_name: bob\n        certificate_body: \"{{ lookup('ansible.builtin.file', 'bob.pem') }}\"\n"
    )
    run_cleanly(["ansible-playbook", "site.yml"], work, env)
    time.sleep(CONSISTENCY_DELAY + 0.2)  # the emulator's listings, as IAM's, show a write a moment later
    listed = iam_client(endpoint).list_signing_certificates(UserName="bob")["Certificates"]
    assert [fingerprint(c["CertificateBody"]) for c in listed] == [fingerprint(pem)]

    adhoc = run_cleanly(
        ["ansible", "localhost", "-m", "certops.aws.iam_signing_certificate_info", "-a", "user_name=bob"], work, env
    )
    assert "localhost | SUCCESS" in adhoc.stdout, adhoc.stdout + adhoc.stderr

    # The multi-account example by its recipe, exactly as printed.
    recipe = printed.split("For the multi-account example", 1)[1]
    command = re.search(r"^  (ansible-playbook .*?)\n\n", recipe, re.M | re.S).group(1).replace("\\\n", " ")
    multi = source(state / "multi-account.sh", tmp_path)
    run_cleanly(["bash", "-c", command], REPO, multi)
    report = REPO / "reports" / "expiring_signing_certificates.csv"
    try:
        with open(report, newline="") as handle:
            rows = list(csv.DictReader(handle))
    finally:
        for written in (REPO / "reports").glob("expiring_signing_certificates.*"):
            written.unlink()
        (REPO / "reports").rmdir()
    assert sorted((r["account"], r["user_name"]) for r in rows) == [("development", "carol"), ("production", "alice")]

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    said = process.stdout.read()
    assert "emulator stopped" in said and "env.sh and multi-account.sh removed" in said
    assert not (state / "env.sh").exists() and not (state / "multi-account.sh").exists()
    # A shell that still exports the endpoint is told at once that nothing serves it any more.
    gone = subprocess.run(
        ["ansible", "localhost", "-m", "certops.aws.iam_signing_certificate_info", "-a", "user_name=bob"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert gone.returncode == 2 and f"nothing listens at the IAM endpoint {endpoint} on this machine" in gone.stdout


def test_the_host_rotation_guide_tries_the_role_on_local_hosts_as_written(make_emulator, tmp_path):
    printed, state, _process = make_emulator
    guide = (REPO / "docs" / "guides" / "host_rotation.md").read_text()
    section = guide.split("## Try it locally", 1)[1]
    block = re.search(r"^```sh\n(.*?)^```", section, re.M | re.S).group(1)
    commands = [line for line in block.splitlines() if line.strip()]
    assert commands[0] == "source .emulator/env.sh", commands
    assert "ansible-playbook -i .emulator/signing_hosts.yml" in printed
    # The guide's commands run from the checkout; here its .emulator is the test's own.
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / ".emulator").symlink_to(state)
    (checkout / "docs").symlink_to(REPO / "docs")
    env = source(state / "env.sh", tmp_path)
    seen = []
    for command in commands[1:]:
        run_cleanly(["bash", "-c", command], checkout, env)
        pairs = {}
        for host in ("signer-1", "signer-2"):
            directory = state / "hosts" / host / "signing"
            pairs[host] = (directory / "signing.pem").read_text() if (directory / "signing.pem").exists() else None
        seen.append(pairs)
    check, first, forced = seen
    assert check == {"signer-1": None, "signer-2": None}, "check mode wrote on a host"
    iam = iam_client(env["AWS_URL"])
    time.sleep(CONSISTENCY_DELAY + 0.2)  # the emulator's listings, as IAM's, show a write a moment later
    for host in ("signer-1", "signer-2"):
        assert first[host] and forced[host] and first[host] != forced[host], host
        listed = {
            fingerprint(c["CertificateBody"]): c["Status"]
            for c in iam.list_signing_certificates(UserName=host)["Certificates"]
        }
        assert listed == {fingerprint(first[host]): "Inactive", fingerprint(forced[host]): "Active"}, host
