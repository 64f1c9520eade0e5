"""`make demo`: the example playbook against a local IAM emulator, the way a user would run it.

Starts a moto server on 127.0.0.1 (a free port; nothing listens elsewhere), creates an example IAM user, writes two
example certificates (the user's current one, expiring in 5 days and already uploaded to IAM, as it is where a
rotation is due, and its successor, valid for a year), builds and installs the collection into a temporary
collections path, then runs playbooks/signing_certificates_demo.yml three times: a preview (--check --diff), the
real run, and a rerun that must change nothing. Finally it reads the emulator's state with plain boto3 and stops the
server. Exits non-zero if anything failed. Credentials are dummies; ~/.aws is never read.

Run from the repository root: .venv/bin/python docs/demo/run_demo.py
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # for tools.certs and tools.harness, shared with the end-to-end tests

from tools.certs import make_certificate  # noqa: E402
from tools.harness import BIN, ansible_environment, iam_client, iam_emulator, install_collection  # noqa: E402

PLAYBOOK = Path("playbooks/signing_certificates_demo.yml")
USER = "certops-demo"
# IAM lists a write a moment later: the demo meets that too.
DEMO_CONSISTENCY_DELAY = 1.0
RECAP = re.compile(r"^localhost\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


class DemoFailed(Exception):
    pass


def banner(text: str) -> None:
    print(f"\n\033[1m==> {text}\033[0m" if sys.stdout.isatty() else f"\n==> {text}", flush=True)


def demo_environment(work: Path, collections: Path, endpoint: str) -> dict[str, str]:
    """What a user would export (the endpoint, in AWS_URL), inside the isolated environment of the tests."""
    env = {**ansible_environment(work / "ansible_home", collections), "AWS_URL": endpoint}
    if sys.stdout.isatty():
        env["ANSIBLE_FORCE_COLOR"] = "1"  # ansible's output goes through a pipe to be checked
    else:
        env["ANSIBLE_NOCOLOR"] = "1"
    return env


def run_playbook(env: dict[str, str], extra_vars: dict[str, str], *options: str) -> str:
    """Run the example playbook, streaming its output; return the output, raise if it failed."""
    argv = [str(BIN / "ansible-playbook"), str(PLAYBOOK), *options]
    for key, value in extra_vars.items():
        argv += ["-e", f"{key}={value}"]
    shown = ["ansible-playbook", str(PLAYBOOK), *options, *(f"-e {k}={shlex.quote(v)}" for k, v in extra_vars.items())]
    print(f"$ {' '.join(shown)}", flush=True)
    process = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        lines.append(line)
    output = "".join(lines)
    if process.wait() != 0:
        raise DemoFailed(f"ansible-playbook exited with {process.returncode}")
    return output


def changed_count(output: str) -> int:
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
    recap = RECAP.search(plain)
    if recap is None:
        raise DemoFailed("no PLAY RECAP in the output")
    changed, unreachable, failed = (int(n) for n in recap.groups())
    if unreachable or failed:
        raise DemoFailed(f"{failed} failed and {unreachable} unreachable tasks")
    return changed


def check_server(endpoint: str, current_pem: str, new_pem: str) -> None:
    """Read the emulator with plain boto3, independent of the collection: is the result what we expect?"""
    listed = iam_client(endpoint).list_signing_certificates(UserName=USER)["Certificates"]
    status = {cert["CertificateBody"].strip(): cert["Status"] for cert in listed}
    for cert in listed:
        print(f"  {cert['CertificateId']}  {cert['Status']:<8}  uploaded {cert['UploadDate']:%Y-%m-%d %H:%M:%S}")
    expected = {current_pem.strip(): "Inactive", new_pem.strip(): "Active"}
    if status != expected:
        raise DemoFailed("the emulator does not hold the expected certificates: new one Active, old one Inactive")


def main() -> int:
    try:
        with (
            iam_emulator(consistency_delay=DEMO_CONSISTENCY_DELAY) as emulator,
            tempfile.TemporaryDirectory(prefix="certops-demo-") as tmp,
        ):
            work, endpoint = Path(tmp), emulator.url
            banner(f"IAM emulator listening on {endpoint}: {emulator.summary()}")
            iam_client(endpoint).create_user(UserName=USER)
            print(f"  created IAM user {USER}")

            # 5.5 days: "5 days left" in whole days while the demo runs.
            current_pem = make_certificate(f"{USER} 2025", days=5.5, starts_in_days=-360)
            new_pem = make_certificate(f"{USER} 2026", days=365)
            (work / "current.pem").write_text(current_pem)
            (work / "new.pem").write_text(new_pem)
            # Where a rotation is due, the user holds its certificate already: the preview then shows exactly what
            # the real run does (a check-mode upload in the same play would be invisible to the rotation).
            iam_client(endpoint).upload_signing_certificate(UserName=USER, CertificateBody=current_pem)
            print(f"  {work / 'current.pem'}: the user's certificate today, expires in 5 days, uploaded to IAM")
            print(f"  {work / 'new.pem'}: its successor, valid for a year")

            env = demo_environment(work, work / "collections", endpoint)
            install_collection(env, work)
            print(f"  collection built and installed into {work / 'collections'}")
            extra_vars = {
                "iam_user": USER,
                "current_certificate_file": str(work / "current.pem"),
                "new_certificate_file": str(work / "new.pem"),
            }

            banner("Preview with --check --diff: what would change (nothing is written)")
            run_playbook(env, extra_vars, "--check", "--diff")

            banner("Run it: read the expiry, rotate (upload the new one, verify it, deactivate the old one)")
            if changed_count(run_playbook(env, extra_vars, "--diff")) == 0:
                raise DemoFailed("the first real run changed nothing")

            banner("Run it again: everything is in place, so nothing changes (changed=0)")
            again = changed_count(run_playbook(env, extra_vars))
            if again != 0:
                raise DemoFailed(f"the rerun changed {again} tasks; it should change none")

            banner(f"What the emulator holds for {USER}, read with plain boto3")
            check_server(emulator.moto_url, current_pem, new_pem)
    except (DemoFailed, RuntimeError) as failure:
        print(f"\nDEMO FAILED: {failure}", file=sys.stderr, flush=True)
        return 1
    banner("Demo finished: the same playbook runs against AWS with real credentials and no change")
    return 0


if __name__ == "__main__":
    sys.exit(main())
