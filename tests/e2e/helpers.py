"""End-to-end helpers: run real ansible processes against the installed collection, read results and server state."""

from __future__ import annotations

import itertools
import json
import re
import signal
import subprocess
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tools.harness import BIN, REPO, ansible_environment, interpreter_extra_vars

CALLBACK_DIR = Path(__file__).resolve().parent / "callback_plugins"
TARGETS_DIR = REPO / "tests" / "integration" / "targets"
USER = "alice"
# Nothing listens on the discard port: a run that forgets its endpoint fails fast instead of reaching AWS.
NO_ENDPOINT = "http://127.0.0.1:9"
TIMEOUT = 300


def localhost_play(name: str, body: str) -> str:
    """A play on localhost whose certops.aws modules reach the test server (the extra var `endpoint`) through
    `module_defaults: group/certops.aws.aws`; body is the rest of the play (its tasks or roles), unindented."""
    head = textwrap.dedent(f"""\
        - name: {name}
          hosts: localhost
          gather_facts: false
          module_defaults:
            group/certops.aws.aws:
              endpoint_url: "{{{{ endpoint }}}}"
        """)
    return head + textwrap.indent(textwrap.dedent(body), "  ")


def base_env(home: Path, collections_path: Path | None = None) -> dict[str, str]:
    """The environment of every ansible process: dummy credentials, no ~/.aws, only the installed collection,
    and an IAM endpoint where nothing listens unless the play names one."""
    return {
        **ansible_environment(home, collections_path),
        "AWS_ENDPOINT_URL_IAM": NO_ENDPOINT,
        "ANSIBLE_NOCOLOR": "1",
    }


def assert_clean(output: str) -> None:
    """What a user must never see, whatever the outcome: a traceback, a crash, a warning or a deprecation."""
    for unwanted in ("Traceback", "MODULE FAILURE", "[WARNING]", "[DEPRECATION WARNING]"):
        assert unwanted not in output, output


class CollectionPlaybook(str):
    """A playbook of the installed collection, run by its name (e.g. certops.aws.rotate_signing_certificates)."""


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    tasks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def task(self, name: str) -> dict[str, Any]:
        """The one recorded result of the task with this name."""
        found = [entry for entry in self.tasks if entry["task"] == name]
        assert len(found) == 1, f"task {name!r} ran {len(found)} times; recorded: {[t['task'] for t in self.tasks]}"
        return found[0]

    def result(self, name: str) -> dict[str, Any]:
        return self.task(name)["result"]

    def changed(self, name: str) -> bool:
        return self.task(name)["changed"]

    def diff_text(self, name: str) -> str:
        """The diff the default callback printed under TASK [name]."""
        # A task of a role is headed "TASK [role : name]".
        header = rf"^TASK \[(?:[\w.]+ : )?{re.escape(name)}\] \*+\n"
        match = re.search(header + r"(.*?)(?=^TASK \[|^PLAY RECAP)", self.stdout, re.M | re.S)
        assert match, f"no output for task {name!r}:\n{self.stdout}"
        block = match.group(1)
        assert "--- before" in block and "+++ after" in block, block
        return block

    def diff_changes(self, name: str) -> tuple[list[str], list[str]]:
        """(removed, added) lines of the printed diff of a task, stripped of the sign, indentation and comma."""
        lines = [line for line in self.diff_text(name).splitlines() if line[:3] not in ("---", "+++")]
        removed = [line[1:].strip().rstrip(",") for line in lines if line.startswith("-")]
        added = [line[1:].strip().rstrip(",") for line in lines if line.startswith("+")]
        return removed, added


@dataclass
class AdhocRun:
    rc: int
    stdout: str
    stderr: str
    status: str
    result: dict[str, Any]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


_ADHOC_HEAD = re.compile(r"^localhost \| (SUCCESS|CHANGED|FAILED!|UNREACHABLE!) => ", re.M)


class Ansible:
    """Runs ansible-playbook and ansible with the installed collection, against the moto server."""

    def __init__(self, env: Mapping[str, str], workdir: Path, endpoint: str) -> None:
        self.env = dict(env)
        self.workdir = workdir
        self.endpoint = endpoint
        self._counter = itertools.count(1)

    def _run(self, argv: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
        # A session of its own: a test may kill the whole run (ansible-playbook, its workers and their modules),
        # as a power cut or an OOM kill would, without killing pytest.
        return subprocess.run(
            argv,
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
            start_new_session=True,
        )

    def write_playbook(self, text: str) -> Path:
        path = self.workdir / f"playbook_{next(self._counter)}.yml"
        path.write_text(textwrap.dedent(text))
        return path

    def playbook(
        self,
        playbook: str | Path | CollectionPlaybook,
        extra_vars: Mapping[str, Any] | None = None,
        *,
        check: bool = False,
        diff: bool = False,
        verbosity: int = 0,
        aws_url: bool = False,
        env: Mapping[str, str] | None = None,
        options: tuple[str, ...] = (),
    ) -> PlaybookRun:
        """Run a playbook (a path, a collection playbook's name, or YAML text written to a file first) and record
        every task result.

        aws_url=True passes the endpoint the way a user would without module_defaults: AWS_URL.
        options are further command-line options, e.g. ("-i", inventory, "--forks", "2").
        """
        number = next(self._counter)
        path = playbook if isinstance(playbook, (Path, CollectionPlaybook)) else self.write_playbook(playbook)
        results = self.workdir / f"results_{number}.jsonl"
        vars_file = self.workdir / f"vars_{number}.json"
        vars_file.write_text(json.dumps({"endpoint": self.endpoint, **(extra_vars or {})}))
        argv = [str(BIN / "ansible-playbook"), str(path), "-e", f"@{vars_file}", *interpreter_extra_vars(), *options]
        argv += ["--check"] * check + ["--diff"] * diff + ([f"-{'v' * verbosity}"] if verbosity else [])
        run_env = {
            **self.env,
            "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACK_DIR),
            "ANSIBLE_CALLBACKS_ENABLED": "certops_e2e_record,certops_e2e_kill,certops_e2e_consumer",
            "CERTOPS_E2E_RESULTS": str(results),
            **({"AWS_URL": self.endpoint} if aws_url else {}),
            **(env or {}),
        }
        completed = self._run(argv, run_env)
        tasks = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
        run = PlaybookRun(completed.returncode, completed.stdout, completed.stderr, tasks)
        if completed.returncode != -signal.SIGKILL:  # a run killed on purpose printed what it had
            assert_clean(run.output)
        return run

    def adhoc(
        self, module: str, args: Mapping[str, Any], *, check: bool = False, diff: bool = False, verbosity: int = 0
    ) -> AdhocRun:
        """`ansible localhost -m MODULE -a JSON`, endpoint from AWS_URL; parses the printed result."""
        argv = [str(BIN / "ansible"), "localhost", "-m", module, "-a", json.dumps(args), *interpreter_extra_vars()]
        argv += ["--check"] * check + ["--diff"] * diff + ([f"-{'v' * verbosity}"] if verbosity else [])
        completed = self._run(argv, {**self.env, "AWS_URL": self.endpoint})
        assert_clean(completed.stdout + completed.stderr)
        head = _ADHOC_HEAD.search(completed.stdout)
        assert head, f"no result line in:\n{completed.stdout}\n{completed.stderr}"
        result, _end = json.JSONDecoder().raw_decode(completed.stdout, head.end())
        return AdhocRun(completed.returncode, completed.stdout, completed.stderr, head.group(1), result)


def run_tool(env: Mapping[str, str], tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one of the venv's ansible tools (ansible-doc, ansible-galaxy, ansible-inventory, ...) and capture it."""
    return subprocess.run(
        [str(BIN / tool), *args], env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def fingerprint(pem: str) -> str:
    """SHA-256 of the DER encoding, colon-separated upper-case hex; computed here, not by the collection."""
    digest = x509.load_pem_x509_certificate(pem.encode()).fingerprint(hashes.SHA256())
    return ":".join(f"{byte:02X}" for byte in digest)


def server_certificates(iam: Any, user_name: str = USER) -> dict[str, dict[str, str]]:
    """The user's certificates as the server holds them, read with plain boto3: {id: {status, fingerprint}}."""
    listed = iam.list_signing_certificates(UserName=user_name)["Certificates"]
    return {
        cert["CertificateId"]: {"status": cert["Status"], "fingerprint": fingerprint(cert["CertificateBody"])}
        for cert in listed
    }


def upload(iam: Any, pem: str, user_name: str = USER, status: str = "Active") -> str:
    """Put a certificate on the server with plain boto3 (a precondition, independent of the collection)."""
    certificate_id = iam.upload_signing_certificate(UserName=user_name, CertificateBody=pem)["Certificate"][
        "CertificateId"
    ]
    if status != "Active":
        iam.update_signing_certificate(UserName=user_name, CertificateId=certificate_id, Status=status)
    return certificate_id
