"""The collection's playbooks run as AWX / Automation Platform runs them: ansible-runner in a private data directory
(env/envvars with the credentials as AWX injects them, env/extravars with the job template's extra variables or a
survey's answers, inventory/, project/ with the wrappers of docs/examples/awx/), the collection installed from its
tarball beside community.crypto's, offline, as an execution environment holds them.

Each job is checked as a platform team would: its status and rc, each user's result in the job events, the size of
those events, and that no secret (the AWS secret key, a private key's line) is in any event or artifact. The event
sizes are printed (`-s`): figures, not limits on time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import REPO, fingerprint, server_certificates, upload
from tests.e2e.host_fleet import host_pair
from tools.certs import make_certificate
from tools.dependencies import write_tarballs
from tools.harness import BIN, ansible_environment, build_collection, dependency_collections, target_python

pytestmark = [pytest.mark.e2e, pytest.mark.consistency_delay(0.3)]

AWX_EXAMPLES = REPO / "docs" / "examples" / "awx"
HOST_EXAMPLE = REPO / "docs" / "examples" / "host_signing_certificates.yml"
# The job's AWS credential, as AWX's "Amazon Web Services" credential type injects it; never in an event.
SECRET_KEY = "certops-awx-secret-key-do-not-show-0123456789"
ROTATE = "Rotate the signing certificates"
USERS = 100
# Bytes a user's entry may take in the rotation task's event, and a certificate's in the audit's info event: the
# entry itself is about 0.6 kB (IDs, fingerprints, the reason and summary lines); the bodies are never returned.
PER_USER_BYTES = 1500
VERIFY_SOON = {"signing_certificate_rotation_verify_delay": 0.5}
# An inventory host run on the controller, as the accounts of the audit and AWX's localhost are.
LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": target_python()}
PER_CERTIFICATE_BYTES = 1000


@dataclass
class Job:
    status: str
    rc: int
    stdout: str
    events: list[dict[str, Any]]
    artifacts: Path

    def task_events(self, task: str, event: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if e.get("event_data", {}).get("task") == task and (event is None or e["event"] == event)
        ]

    def size(self, event: dict[str, Any]) -> int:
        return len(json.dumps(event))

    def events_holding(self, text: str) -> list[str]:
        """The events whose JSON holds text: "event (task)" each."""
        return [f"{e['event']} ({e.get('event_data', {}).get('task')})" for e in self.events if text in json.dumps(e)]

    def figures(self) -> str:
        """The largest events, for the reader of -s output."""
        sized = sorted(self.events, key=self.size, reverse=True)[:5]
        return ", ".join(f"{e['event']} ({e.get('event_data', {}).get('task')}): {self.size(e)} B" for e in sized)

    def artifact_files(self) -> list[Path]:
        """Every artifact but ansible-runner's own record of the process it started (`command`), which holds the
        whole environment, credentials included, by design of ansible-runner; AWX keeps its own copy of a job's
        environment, with secrets redacted, and does not publish that file."""
        return [path for path in self.artifacts.rglob("*") if path.is_file() and path.name != "command"]

    def assert_no_secret(self, *secrets: str) -> None:
        """No secret in any artifact: the events, stdout, the fact cache, status and rc."""
        for path in self.artifact_files():
            text = path.read_text(errors="replace")
            for secret in (SECRET_KEY, *secrets):
                assert secret not in text, f"{path.relative_to(self.artifacts)} shows a secret"
        assert "failed_when_suppressed_exception" not in self.stdout + json.dumps(self.events)
        assert "Traceback" not in self.stdout


class AwxRunner:
    """Jobs in private data directories, run by the ansible-runner CLI with the collections of an execution
    environment; IAM calls go to the emulator (AWS_URL, as the environment of a job template would set it)."""

    def __init__(self, root: Path, collections: Path, endpoint: str) -> None:
        self.root, self.collections, self.endpoint = root, collections, endpoint
        self.jobs = 0

    def run(
        self,
        playbook: Path,
        extravars: dict[str, Any] | None = None,
        inventory: dict[str, Any] | None = None,
        envvars: dict[str, str] | None = None,
    ) -> Job:
        self.jobs += 1
        data = self.root / f"job-{self.jobs}"
        for folder in ("project", "env", "inventory"):
            (data / folder).mkdir(parents=True)
        shutil.copy(playbook, data / "project" / playbook.name)
        (data / "env" / "envvars").write_text(
            json.dumps(
                {
                    # An "Amazon Web Services" credential, as AWX injects it.
                    "AWS_ACCESS_KEY_ID": "AKIAAWXCREDENTIAL000",
                    "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                    "AWS_SECURITY_TOKEN": "",
                    "AWS_URL": self.endpoint,
                    **(envvars or {}),
                }
            )
        )
        (data / "env" / "extravars").write_text(json.dumps(extravars or {}))
        hosts = inventory if inventory is not None else {"all": {"hosts": {"localhost": LOCAL}}}
        (data / "inventory" / "hosts.json").write_text(json.dumps(hosts))
        env = ansible_environment(data / "home", self.collections)
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            del env[name]  # only the job's credential, from env/envvars
        env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
        argv = [str(BIN / "ansible-runner"), "run", str(data), "-p", playbook.name, "--ident", "job"]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
        artifacts = data / "artifacts" / "job"
        assert (artifacts / "status").is_file(), done.stdout + done.stderr
        events = [json.loads(path.read_text()) for path in sorted((artifacts / "job_events").glob("*.json"))]
        events.sort(key=lambda event: event["counter"])
        return Job(
            status=(artifacts / "status").read_text().strip(),
            rc=int((artifacts / "rc").read_text()),
            stdout=(artifacts / "stdout").read_text(),
            events=events,
            artifacts=artifacts,
        )


@pytest.fixture(scope="module")
def ee_collections(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """certops.aws from its tarball beside community.crypto's, installed without Galaxy into an empty path."""
    work = tmp_path_factory.mktemp("execution-environment")
    env = ansible_environment(work / "home")  # no collections path: nothing counts as installed already
    tarball = build_collection(env, work / "build")
    (crypto,) = write_tarballs(work / "build", dependency_collections())
    argv = [str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-p", str(work / "collections")]
    subprocess.run([*argv, str(tarball), str(crypto)], env=env, capture_output=True, check=True)
    assert (work / "collections" / "ansible_collections" / "certops" / "aws" / "MANIFEST.json").is_file()
    return work / "collections"


@pytest.fixture
def awx(tmp_path: Path, ee_collections: Path, iam_endpoint: str) -> AwxRunner:
    return AwxRunner(tmp_path / "awx", ee_collections, iam_endpoint)


def _users_due(iam, count: int) -> tuple[list[dict[str, str]], dict[str, str], dict[str, str]]:
    """count users, each with an active certificate expiring in 5 days; their rotations (the PEM text, as a job
    template's extra variables give it), and each user's old ID and new fingerprint."""
    rotations, old, new = [], {}, {}
    for number in range(count):
        name = f"awx-user-{number:03d}"
        iam.create_user(UserName=name)
        old[name] = upload(iam, make_certificate(f"{name} old", days=5), user_name=name)
        pem = make_certificate(f"{name} new", days=365)
        rotations.append({"user": name, "certificate": pem})
        new[name] = fingerprint(pem)
    return rotations, old, new


def test_a_rotation_of_a_hundred_users_from_extra_variables(awx, iam):
    rotations, old, new = _users_due(iam, USERS)
    # The emulator lists a write 0.3 s late here: the role's verification looks again 0.5 s later, not 3 s.
    job = awx.run(AWX_EXAMPLES / "rotate_signing_certificates.yml", {"rotations": rotations, **VERIFY_SOON})
    assert (job.status, job.rc) == ("successful", 0), job.stdout[-3000:]

    (rotated,) = job.task_events(ROTATE, "runner_on_ok")
    results = rotated["event_data"]["res"]["results"]
    assert [entry["user_name"] for entry in results] == [r["user"] for r in rotations]
    for entry in results:
        name = entry["user_name"]
        assert entry["rotated"] and entry["retired"] == [old[name]] and entry["new_fingerprint_sha256"] == new[name]
        holds = {c["fingerprint"]: c["status"] for c in server_certificates(iam, name).values()}
        assert holds[new[name]] == "Active" and server_certificates(iam, name)[old[name]]["status"] == "Inactive"
    # Each user's result is in one event, the rotation's; the report prints a line per user, without the data.
    for name in ("awx-user-000", "awx-user-057", "awx-user-099"):
        assert job.events_holding(new[name]) == [f"runner_on_ok ({ROTATE})"]
    (report,) = job.task_events("Report each user", "runner_on_ok")
    assert len(report["event_data"]["res"]["msg"]) == USERS
    # The certificates given in the extra variables are in no event: no result repeats them.
    assert job.events_holding(rotations[0]["certificate"].splitlines()[5]) == []
    size = job.size(rotated)
    print(f"\n{USERS} users rotated: the rotation's event {size} B ({size // USERS} B per user); {job.figures()}")
    assert size < USERS * PER_USER_BYTES
    job.assert_no_secret()


def test_a_survey_rotation_of_a_blocked_user_fails_the_job_naming_it(awx, iam):
    iam.create_user(UserName="blocked")
    kept = [upload(iam, make_certificate(f"blocked {n}", days=5), user_name="blocked") for n in range(2)]
    survey = {"rotation_user": "blocked", "rotation_certificate": make_certificate("blocked new", days=365)}
    job = awx.run(AWX_EXAMPLES / "rotate_signing_certificates.yml", survey)
    assert (job.status, job.rc) == ("failed", 2), job.stdout[-3000:]
    (failed,) = job.task_events(ROTATE, "runner_on_failed")
    result = failed["event_data"]["res"]
    assert result["error_code"] == "RotationFailed"
    assert result["msg"].startswith("1 of 1 users could not be rotated: blocked: cannot rotate: the user already has 2")
    (entry,) = result["results"]
    assert entry["failed"] and entry["error_code"] == "LimitExceeded" and entry["summary"].startswith("FAILED: ")
    (report,) = job.task_events("Report each user", "runner_on_ok")
    assert report["event_data"]["res"]["msg"] == [f"blocked: {entry['summary']}"]
    assert sorted(server_certificates(iam, "blocked")) == sorted(kept)
    job.assert_no_secret()

    nothing = awx.run(AWX_EXAMPLES / "rotate_signing_certificates.yml", {})
    assert (nothing.status, nothing.rc) == ("failed", 2)
    (check,) = nothing.task_events("Check the rotations before anything is written", "runner_on_failed")
    assert check["event_data"]["res"]["msg"].startswith("no rotations given")

    # A user name the API gives as a number is a user name; a survey beside a list of rotations is refused.
    iam.create_user(UserName="12345")
    numbered = awx.run(AWX_EXAMPLES / "rotate_signing_certificates.yml", {**survey, "rotation_user": 12345})
    assert (numbered.status, numbered.rc) == ("successful", 0), numbered.stdout[-3000:]
    assert [c["status"] for c in server_certificates(iam, "12345").values()] == ["Active"]
    both_rotations = [{"user": "12345", "certificate": survey["rotation_certificate"]}]
    numbered_holds = server_certificates(iam, "12345")
    both = awx.run(AWX_EXAMPLES / "rotate_signing_certificates.yml", {**survey, "rotations": both_rotations})
    assert (both.status, both.rc) == ("failed", 2)
    assert server_certificates(iam, "12345") == numbered_holds, "a refused job wrote"
    (refused,) = both.task_events("Refuse a survey's user together with a list of rotations", "runner_on_failed")
    assert refused["event_data"]["res"]["msg"].startswith("give either rotations (a list")
    # A survey's optional question left blank gives "": the list of the extra variables is then the job's input.
    blank = awx.run(
        AWX_EXAMPLES / "rotate_signing_certificates.yml",
        {"rotation_user": "", "rotation_certificate": "", "rotations": both_rotations},
    )
    assert (blank.status, blank.rc) == ("successful", 0), blank.stdout[-3000:]


def _accounts(*hosts: str, **overrides: dict[str, Any]) -> dict[str, Any]:
    return {"aws_accounts": {"hosts": {host: {**LOCAL, **overrides.get(host, {})} for host in hosts}}}


def test_an_audit_as_a_job_publishes_its_report_as_an_artifact_and_never_looks_green_when_empty(awx, iam):
    for number in range(USERS // 2):
        name = f"audited-{number:02d}"
        iam.create_user(UserName=name)
        upload(iam, make_certificate(f"{name} soon", days=5 + number % 20), user_name=name)
        upload(iam, make_certificate(f"{name} later", days=10 + number % 15), user_name=name, status="Inactive")
    playbook = AWX_EXAMPLES / "audit_expiring_certificates.yml"

    job = awx.run(playbook, {"expiring_within_days": 30}, _accounts("production"))
    assert (job.status, job.rc) == ("successful", 0), job.stdout[-3000:]
    (stats,) = [e for e in job.events if e["event"] == "playbook_on_stats"]
    report = stats["event_data"]["artifact_data"]["certops_audit_report"]
    assert len(report["rows"]) == USERS and report["accounts_failed"] == [] and report["accounts_audited"] == 1
    assert {row["account"] for row in report["rows"]} == {"production"}
    assert all(row["days_to_expiry"] <= 30 and "certificate_body" not in row for row in report["rows"])
    (listed,) = [e for e in job.events if e["event"] == "runner_on_ok" and "certificates" in e["event_data"]["res"]]
    size = job.size(listed)
    print(
        f"\naudit of {USERS} certificates: the info event {size} B ({size // USERS} B per certificate); {job.figures()}"
    )
    assert size < USERS * PER_CERTIFICATE_BYTES
    assert job.events_holding("-----BEGIN CERTIFICATE-----") == []
    # A certificate is in two events: the listing's, and the artifact in the job's stats.
    some_id = report["rows"][37]["certificate_id"]
    assert job.events_holding(some_id) == [f"runner_on_ok ({listed['event_data']['task']})", "playbook_on_stats (None)"]
    job.assert_no_secret()

    # An account whose endpoint nobody serves: in the report as failed, and the job fails.
    broken = _accounts("production", "unreachable", unreachable={"iam_endpoint_url": "http://127.0.0.1:9"})
    failing = awx.run(playbook, {}, broken)
    assert (failing.status, failing.rc) == ("failed", 2), failing.stdout[-3000:]
    (stats,) = [e for e in failing.events if e["event"] == "playbook_on_stats"]
    report = stats["event_data"]["artifact_data"]["certops_audit_report"]
    assert report["accounts_failed"] == ["unreachable"] and report["accounts_audited"] == 1
    (row,) = [row for row in report["rows"] if row["account"] == "unreachable"]
    assert row["status"] == "AUDIT FAILED" and row["error"].startswith("Unreachable: nothing listens at the IAM")
    failing.assert_no_secret()

    empty = awx.run(playbook, {}, {"aws_accounts": {"hosts": {}}})
    assert (empty.status, empty.rc) == ("failed", 2), empty.stdout[-3000:]
    (refused,) = [e for e in empty.events if e["event"] == "runner_on_failed"]
    assert refused["event_data"]["res"]["msg"].startswith("no account to audit: the inventory has no host")


def test_the_host_role_example_runs_as_a_job_and_no_private_key_line_reaches_an_event(awx, iam, tmp_path):
    hosts = {}
    for name in ("host-a", "host-b"):
        iam.create_user(UserName=f"user-{name}")
        hosts[name] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "host_signing_certificate_user_name": f"user-{name}",
            "host_signing_certificate_dir": str(tmp_path / name / "signing"),
        }
    job = awx.run(HOST_EXAMPLE, {}, {"signing_hosts": {"hosts": hosts}}, envvars={})
    assert (job.status, job.rc) == ("successful", 0), job.stdout[-3000:]
    per_host = Counter(e["event_data"].get("host") for e in job.events if e["event"] == "runner_on_ok")
    assert set(per_host) >= set(hosts)
    secrets = []
    for name, variables in hosts.items():
        pair = host_pair(Path(variables["host_signing_certificate_dir"]))
        held = server_certificates(iam, f"user-{name}").values()
        assert [(c["fingerprint"], c["status"]) for c in held] == [(fingerprint(pair.cert), "Active")]
        secrets += pair.private_lines
    print(f"\nhost role on {len(hosts)} hosts: {len(job.events)} events; {job.figures()}")
    job.assert_no_secret(*secrets)
