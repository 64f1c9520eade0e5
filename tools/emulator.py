"""`make emulator`: a local IAM emulator to try the collection and your own playbooks without AWS.

Starts the IAM emulator (tools/iam_emulator.py: IAM's rules in front of moto's server; CERTOPS_PLAIN_MOTO=1 for
plain moto) on 127.0.0.1 (port 5000, or a free one if that is taken; CERTOPS_EMULATOR_PORT chooses), with
listings 1 second behind writes as IAM's are (CERTOPS_EMULATOR_CONSISTENCY_DELAY chooses, 0 for none),
creates the users the guides use (alice, bob, carol; signer-1 and signer-2 for the local hosts of the host rotation
guide) and two example accounts for the multi-account example, links this checkout as the collection certops.aws
into .emulator/collections, writes .emulator/signing_hosts.yml (two local "hosts" for the role
host_signing_certificate), and prints the environment to export: the endpoint, dummy credentials, the collections
path (this checkout and community.crypto) and the Python that has boto3. It writes the same to .emulator/env.sh
(and .emulator/multi-account.sh for the multi-account example). It runs until
Ctrl-C (or SIGTERM), then stops the server; the emulator keeps everything in memory, so a restart starts
empty. Nothing listens outside 127.0.0.1 and nothing reads your ~/.aws.

Run from the repository root: .venv/bin/python tools/emulator.py
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Where the environment files and the collections link go (CERTOPS_EMULATOR_STATE moves them, e.g. for tests).
STATE = Path(os.environ.get("CERTOPS_EMULATOR_STATE") or ROOT / ".emulator")
USERS = ("alice", "bob", "carol")
# The local "hosts" of the host rotation guide's try-out (docs/guides/host_rotation.md), each an IAM user of its own.
SIGNING_HOSTS = {"signer-1": "signer-1", "signer-2": "signer-2"}
DUMMY = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
# The accounts of docs/examples/aws_config.example, and the users each gets.
ACCOUNTS = {"production-audit": ("alice", "bob"), "development-audit": ("carol", "dave")}
# Seconds a user's listings lag behind a write, as IAM's do (CERTOPS_EMULATOR_CONSISTENCY_DELAY overrides it).
CONSISTENCY_DELAY = 1.0


def free_port(preferred: int) -> int:
    """preferred if it is free on 127.0.0.1, else any free port (0: any free port)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def link_collection() -> str:
    """.emulator/collections/ansible_collections/certops/aws -> this checkout, and the collections it depends on
    (community.crypto, for the role host_signing_certificate): ANSIBLE_COLLECTIONS_PATH for both."""
    collections = STATE / "collections"
    link = collections / "ansible_collections" / "certops" / "aws"
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(ROOT)
    sys.path.insert(0, str(ROOT))
    from tools.dependencies import ensure

    return f"{collections}:{ensure(Path(sys.prefix) / 'collections')}"


def signing_hosts_inventory() -> Path:
    """An inventory of local "hosts" for the host rotation guide: a directory of its own each, under .emulator."""
    hosts = {
        name: {
            "ansible_connection": "local",
            "host_signing_certificate_user_name": user,
            "host_signing_certificate_dir": str(STATE / "hosts" / name / "signing"),
        }
        for name, user in SIGNING_HOSTS.items()
    }
    inventory = STATE / "signing_hosts.yml"
    inventory.write_text(json.dumps({"signing_hosts": {"hosts": hosts}}, indent=2) + "\n")
    return inventory


def exports(variables: dict[str, str], unset: tuple[str, ...] = ()) -> str:
    """Shell lines: unset, export each variable, and put this venv's ansible first on PATH."""
    lines = [f"unset {' '.join(unset)}"] if unset else []
    lines += [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]
    lines.append(f'export PATH={shlex.quote(str(Path(sys.executable).parent))}:"$PATH"')
    return "\n".join(lines) + "\n"


def environment(endpoint: str, collections: str) -> dict[str, str]:
    return {
        # AWS_URL is the endpoint_url of every certops.aws module; botocore's own variable serves boto3 scripts.
        "AWS_URL": endpoint,
        "AWS_ENDPOINT_URL_IAM": endpoint,
        **DUMMY,
        # Never your own ~/.aws: no profile and no shared files while you try things out.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        # The modules run with the Python that has boto3, botocore and cryptography: this one.
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        # Trying things on localhost needs no inventory: no warning about it.
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
    }


def multi_account_environment(endpoint: str, collections: str, credentials: Path) -> dict[str, str]:
    """For docs/examples: the example AWS config file, whose profiles assume a role in each account, and the
    controller's own (dummy) credentials as the profile 'auditor'; STS answered by the emulator."""
    return {
        **environment(endpoint, collections),
        "AWS_CONFIG_FILE": str(ROOT / "docs" / "examples" / "aws_config.example"),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_ENDPOINT_URL_STS": endpoint,
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
    }


def seed(endpoint: str, credentials: Path) -> None:
    """The users of the guides in the default account, and the example accounts with an expiring certificate."""
    import boto3

    sys.path.insert(0, str(ROOT))
    from tools.certs import make_certificate

    default = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("iam", endpoint_url=endpoint)
    for user in (*USERS, *SIGNING_HOSTS.values()):
        default.create_user(UserName=user)

    for profile, users in ACCOUNTS.items():
        os.environ.update(
            {
                "AWS_CONFIG_FILE": str(ROOT / "docs" / "examples" / "aws_config.example"),
                "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
                "AWS_ENDPOINT_URL_STS": endpoint,
            }
        )
        account = boto3.session.Session(profile_name=profile).client("iam", endpoint_url=endpoint)
        for index, user in enumerate(users):
            account.create_user(UserName=user)
            days = 12 if index == 0 else 300  # the first user of each account has a certificate due soon
            account.upload_signing_certificate(
                UserName=user, CertificateBody=make_certificate(f"{user}-{profile}", days)
            )


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from tools.harness import iam_emulator

    for name in [name for name in os.environ if name.startswith(("AWS_", "BOTO_"))]:
        del os.environ[name]  # the emulator's own clients use dummy credentials, never the user's
    os.environ.update({**DUMMY, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})

    port = free_port(int(os.environ.get("CERTOPS_EMULATOR_PORT", "5000")))
    delay = float(os.environ.get("CERTOPS_EMULATOR_CONSISTENCY_DELAY") or CONSISTENCY_DELAY)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    with iam_emulator(port=port, consistency_delay=delay) as emulator:
        serve(emulator, stopped)
    print("emulator stopped", flush=True)
    return 0


def serve(emulator: Any, stopped: threading.Event) -> None:
    """Seed the emulator, write the environment files, print what to do, and wait for Ctrl-C."""
    endpoint = emulator.url
    STATE.mkdir(exist_ok=True)
    credentials = STATE / "credentials"
    credentials.write_text("[auditor]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    collections = link_collection()
    seed(endpoint, credentials)
    inventory = signing_hosts_inventory()
    env_file, multi_file = STATE / "env.sh", STATE / "multi-account.sh"
    env_file.write_text(exports(environment(endpoint, collections), unset=("AWS_PROFILE", "AWS_SESSION_TOKEN")))
    multi_file.write_text(
        exports(
            multi_account_environment(endpoint, collections, credentials),
            unset=("AWS_PROFILE", "AWS_SESSION_TOKEN"),
        )
    )
    print(
        f"IAM emulator listening on {endpoint}\n{emulator.summary()}\n"
        f"Users: {', '.join(USERS)} (no certificates yet).\n\n"
        f"In another shell, export this (or: source {env_file}):\n\n"
        f"{exports(environment(endpoint, collections), unset=('AWS_PROFILE', 'AWS_SESSION_TOKEN'))}\n"
        "then run your own playbooks and ad hoc commands as usual, for example:\n"
        "  ansible localhost -m certops.aws.iam_signing_certificate_info -a user_name=bob\n\n"
        f"To rotate signing certificates on local hosts (docs/guides/host_rotation.md), with {inventory}:\n"
        "  ansible-playbook -i .emulator/signing_hosts.yml docs/examples/host_signing_certificates.yml\n\n"
        "For the multi-account example (two accounts, reached by assuming a role from the profiles of\n"
        f"docs/examples/aws_config.example): source {multi_file}, then, from {ROOT}:\n"
        "  ansible-playbook -i docs/examples/inventory.yml certops.aws.audit_expiring_certificates \\\n"
        '    -e iam_endpoint_url="$AWS_URL" --forks 2\n\n'
        "Stop the emulator with Ctrl-C (everything it holds is forgotten).",
        flush=True,
    )
    try:
        stopped.wait()
    finally:
        # Files that name an endpoint nobody serves any more would mislead the next shell that sources them; files
        # another emulator wrote since (same state directory) name its endpoint, and stay.
        ours = f"export AWS_URL={shlex.quote(endpoint)}"
        removed = [
            written.name
            for written in (env_file, multi_file)
            if written.exists() and ours in written.read_text().splitlines()
        ]
        for name in removed:
            (STATE / name).unlink()
        if removed:
            print(
                f"{' and '.join(removed)} removed: a shell that exported them still points at {endpoint}, where "
                "nothing listens now (the collection's modules say so at once); start `make emulator` again, or open "
                "a new shell",
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(main())
