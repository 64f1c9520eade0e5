"""Hosts that hold signing keys, for the end-to-end tests of the role host_signing_certificate.

Several hosts in one inventory, each with the local connection, a directory of its own under tmp_path and an IAM
user of its own on the moto server. Pairs are set up with cryptography (keys made here, so the tests know their
private halves), IAM with plain boto3, and the outcome is read back the same way: the files on each "host" and the
user's certificates on the server. The playbook is docs/examples/host_signing_certificates.yml.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.helpers import REPO, Ansible, PlaybookRun, fingerprint, server_certificates
from tools.certs import make_certificate

PLAYBOOK = REPO / "docs" / "examples" / "host_signing_certificates.yml"
ROLE = REPO / "roles" / "host_signing_certificate"
RESULT = "host_signing_certificate_result"


# ---------------------------------------------------------------------------------------------------------------
# Pairs made here, so the tests know every private key that may be on a host.


@dataclass(frozen=True)
class Pair:
    key: str
    cert: str

    @property
    def private_lines(self) -> list[str]:
        """Lines of the key's private half: the last base64 lines of the PEM (its first lines encode the public
        modulus, which a certificate or CSR shows legitimately)."""
        lines = [line for line in self.key.splitlines() if line and not line.startswith("-----")]
        return lines[-8:]


def make_pair(common_name: str, days: float, starts_in_days: float = -1) -> Pair:
    """A new key of its own, and a self-signed certificate of it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return Pair(key_pem, make_certificate(common_name, days=days, starts_in_days=starts_in_days, key=key))


def write_pair(directory: Path, pair: Pair, key_mode: int = 0o600) -> None:
    """A pair as a person would place it by hand: two plain files."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "signing.key").write_text(pair.key)
    os.chmod(directory / "signing.key", key_mode)
    (directory / "signing.pem").write_text(pair.cert)


def snapshot(directory: Path) -> dict[str, Any]:
    """Everything under a directory: type, mode and content digest of files, targets of links."""
    if not directory.exists():
        return {}
    seen: dict[str, Any] = {}
    for path in sorted(directory.rglob("*")):
        relative = str(path.relative_to(directory))
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            seen[relative] = ("link", os.readlink(path))
        elif stat.S_ISDIR(info.st_mode):
            seen[relative] = ("dir", stat.S_IMODE(info.st_mode))
        else:
            seen[relative] = ("file", stat.S_IMODE(info.st_mode), hashlib.sha256(path.read_bytes()).hexdigest())
    return seen


def host_pair(directory: Path) -> Pair:
    """The pair the consumer reads at the stable paths; asserts that the key belongs to the certificate."""
    key_pem = (directory / "signing.key").read_text()
    cert_pem = (directory / "signing.pem").read_text()
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    assert key.public_key().public_numbers() == cert.public_key().public_numbers(), "key and certificate differ"
    return Pair(key_pem, cert_pem)


def key_mode(directory: Path) -> int:
    return stat.S_IMODE((directory / "signing.key").stat().st_mode)


def statuses(iam, user_name: str) -> dict[str, str]:
    return {cid: cert["status"] for cid, cert in server_certificates(iam, user_name).items()}


def id_of(iam, user_name: str, pem: str) -> str:
    (found,) = [cid for cid, c in server_certificates(iam, user_name).items() if c["fingerprint"] == fingerprint(pem)]
    return found


# ---------------------------------------------------------------------------------------------------------------
# Running the example playbook against an inventory of local hosts.


class Fleet:
    """Hosts host-a, host-b, ... with the local connection, a directory and an IAM user each."""

    def __init__(self, ansible: Ansible, iam, endpoint: str, root: Path) -> None:
        self.ansible, self.iam, self.endpoint, self.root = ansible, iam, endpoint, root
        self.hosts: dict[str, dict[str, Any]] = {}

    def add(self, name: str, directory: str | None = None, create_user: bool = True, **variables: Any) -> Path:
        path = self.root / name / (directory or "signing")
        user = variables.pop("user_name", f"user-{name}")
        if create_user:
            self.iam.create_user(UserName=user)
        self.hosts[name] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "host_signing_certificate_user_name": user,
            "host_signing_certificate_dir": str(path),
            **{f"host_signing_certificate_{key}": value for key, value in variables.items()},
        }
        return path

    def dir(self, name: str) -> Path:
        return Path(self.hosts[name]["host_signing_certificate_dir"])

    def user(self, name: str) -> str:
        return self.hosts[name]["host_signing_certificate_user_name"]

    def run(
        self,
        *,
        check: bool = False,
        verbosity: int = 0,
        endpoint: str | None = None,
        forks: int = 4,
        limit: str | None = None,
        playbook: str | Path = PLAYBOOK,
        kill_after: str | None = None,
        env: dict[str, str] | None = None,
        **extra: Any,
    ) -> PlaybookRun:
        """ansible-playbook on the fleet's inventory. kill_after: the name of a task after which the whole run is
        killed (SIGKILL to ansible-playbook, its workers and their modules: nothing after it runs, no rescue)."""
        inventory = self.root / "inventory.json"
        self.root.mkdir(parents=True, exist_ok=True)
        inventory.write_text(json.dumps({"signing_hosts": {"hosts": self.hosts}}))
        options = ("-i", str(inventory), "--forks", str(forks), *(("--limit", limit) if limit else ()))
        killing = {"CERTOPS_E2E_KILL_AFTER": kill_after} if kill_after else {}
        return self.ansible.playbook(
            playbook,
            {"iam_endpoint_url": endpoint or self.endpoint, **extra},
            check=check,
            verbosity=verbosity,
            options=options,
            env={**killing, **(env or {})},
        )


def recap(run: PlaybookRun) -> dict[str, dict[str, int]]:
    found = {}
    for host, counts in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", run.stdout, re.M):
        found[host] = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counts)}
    assert found, run.output
    return found


def results(run: PlaybookRun) -> dict[str, dict[str, Any]]:
    """Per host, the last host_signing_certificate_result the role published."""
    found: dict[str, dict[str, Any]] = {}
    for entry in run.tasks:
        facts = entry["result"].get("ansible_facts") or {}
        if RESULT in facts:
            found[entry["host"]] = facts[RESULT]
    return found


def failure(run: PlaybookRun, host: str) -> str:
    """The message of the task that failed the host (the last: a step's failure is rescued, then reported)."""
    messages = [e["result"]["msg"] for e in run.tasks if e["host"] == host and e["status"] == "failed"]
    assert messages, f"{host} did not fail"
    return messages[-1]


def outcome(entry: dict[str, Any]) -> dict[str, Any]:
    """What check mode must predict exactly: the action, and what is deleted and retired."""
    return {key: entry[key] for key in ("action", "deleted_to_make_room", "retired", "failed")}


# ---------------------------------------------------------------------------------------------------------------
