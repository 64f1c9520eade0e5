"""What the end-to-end tests, the demo and the benchmarks share: a moto server on the loopback interface,
dummy credentials, an isolated Ansible environment, and the collection built and installed as a user gets it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import shlex
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# The Python that runs the modules. By default the controller's own (the venv with ansible-core, boto3 and
# moto); the version matrix points it at another venv that holds only requirements.txt.
TARGET_PYTHON_VARIABLE = "CERTOPS_TARGET_PYTHON"


def target_python() -> str:
    """The interpreter the modules run with: $CERTOPS_TARGET_PYTHON if set (it must exist), else this one."""
    configured = os.environ.get(TARGET_PYTHON_VARIABLE)
    if not configured:
        return sys.executable
    if not os.access(configured, os.X_OK):
        raise RuntimeError(f"{TARGET_PYTHON_VARIABLE}={configured!r} is not an executable Python interpreter")
    return configured


# Dummy credentials, and no shared config or credentials file: a user's ~/.aws is never read.
DUMMY_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 and a free port (never 0.0.0.0); yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request only adds noise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        assert host == "127.0.0.1", host
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


# Set (to anything but "" or "0"): the end-to-end tests, `make demo` and `make emulator` serve plain moto, without
# IAM's rules in front of it.
PLAIN_MOTO_VARIABLE = "CERTOPS_PLAIN_MOTO"


def plain_moto_asked() -> bool:
    return os.environ.get(PLAIN_MOTO_VARIABLE, "") not in ("", "0")


@contextlib.contextmanager
def iam_emulator(port: int = 0, consistency_delay: float = 0.0) -> Iterator[Any]:
    """The IAM emulator (tools/iam_emulator.py) on 127.0.0.1: IAM's rules in front of moto, or plain moto when
    $CERTOPS_PLAIN_MOTO is set. Yields the IamEmulator: .url for clients, .moto_url for the truth, .rules."""
    from tools.iam_emulator import IamEmulator, IamRules

    rules = None if plain_moto_asked() else IamRules(consistency_delay=consistency_delay)
    with IamEmulator(rules, port=port) as emulator:
        yield emulator


def reset_moto(endpoint: str) -> None:
    """Empty every account of the emulator."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_loopback(host: object) -> bool:
    if host is None or host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return False


def guard_loopback(who: str) -> None:
    """Refuse, loudly and in this process, any name lookup or connection that would leave the machine."""
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if not _is_loopback(name):
            raise OSError(f"{who} tried to resolve {name!r}: only loopback addresses may be used")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise OSError(f"{who} tried to connect to {address[0]!r}: only loopback addresses may be used")
        real_connect(sock, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect  # type: ignore[method-assign]


def iam_client(endpoint: str) -> Any:
    """A plain boto3 IAM client on the emulator with the dummy credentials: an independent view of the server."""
    import boto3

    return boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def ansible_environment(home: Path, collections_path: Path | None = None) -> dict[str, str]:
    """The environment of an ansible process: dummy credentials, no ~/.aws, no user or system ansible.cfg,
    a private ANSIBLE_HOME, the target Python for modules (see target_python), and only the given collections
    path. The implicit localhost ignores ANSIBLE_PYTHON_INTERPRETER: pass interpreter_extra_vars() as well."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "ANSIBLE_", "EC2_", "BOTO_", "PYTHONPATH"))
    }
    home.mkdir(parents=True, exist_ok=True)
    config = home / "ansible.cfg"
    if not config.exists():
        config.write_text("# certops.aws: Ansible's defaults only\n")
    env.update(DUMMY_AWS_ENVIRONMENT)
    env.update(
        {
            "ANSIBLE_CONFIG": str(config),
            "ANSIBLE_HOME": str(home),
            "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
            "ANSIBLE_REMOTE_TEMP": str(home / "remote_tmp"),
            # Interpreter discovery picks a broken python on this machine; the target's has boto3.
            "ANSIBLE_PYTHON_INTERPRETER": target_python(),
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        }
    )
    if collections_path is not None:
        env["ANSIBLE_COLLECTIONS_PATH"] = str(collections_path)
    return env


def interpreter_extra_vars() -> list[str]:
    """Command-line options that make every host, the implicit localhost and inventory hosts that name their own
    interpreter included, run modules with target_python(): extra vars win over every other setting."""
    return ["-e", json.dumps({"ansible_python_interpreter": target_python()})]


def _galaxy(env: dict[str, str], *args: str) -> None:
    argv = [str(BIN / "ansible-galaxy"), "collection", *args]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)} failed:\n{done.stdout}{done.stderr}")


def checkout_files(root: Path = REPO, untracked: bool = True) -> list[str]:
    """The checkout's files as git sees them, those in the work tree: tracked, and with untracked=True the new files
    git does not ignore (what a commit of everything would hold)."""
    argv = ["git", "ls-files", "--cached", "-z", *(("--others", "--exclude-standard") if untracked else ())]
    listed = subprocess.run(argv, cwd=root, check=True, capture_output=True).stdout.decode()
    return [name for name in listed.split("\0") if name and (root / name).is_file()]


def copy_of_checkout(destination: Path, untracked: bool = True) -> Path:
    """A copy of checkout_files() at destination (the checkout as tests break it, or as a clone has it)."""
    for name in checkout_files(untracked=untracked):
        (destination / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, destination / name)  # a link's target, never the link: a copy writes only itself
    return destination


def dependency_collections() -> Path:
    """The collections galaxy.yml depends on, offline (tools/dependencies.py), kept beside this Python's venv."""
    from tools.dependencies import ensure

    return ensure(Path(sys.prefix) / "collections")


def build_collection(env: dict[str, str], work: Path, source: Path = REPO) -> Path:
    """`ansible-galaxy collection build` of the collection at source into work; returns the tarball."""
    work.mkdir(parents=True, exist_ok=True)
    _galaxy(env, "build", str(source), "--output-path", str(work))
    (tarball,) = work.glob("*-*-*.tar.gz")
    return tarball


def install_collection(env: dict[str, str], work: Path) -> Path:
    """`ansible-galaxy collection build` then `install` into work/collections: the collection as a user
    installing a release gets it, so a file missing from the build shows. Returns the collections path.

    Galaxy cannot be reached: the dependencies are put in work/collections first (from dependency_collections()),
    so ansible-galaxy resolves galaxy.yml's dependencies against them; a dependency they do not satisfy makes the
    install ask Galaxy, and fail."""
    tarball = build_collection(env, work)
    shutil.copytree(
        dependency_collections() / "ansible_collections",
        work / "collections" / "ansible_collections",
        dirs_exist_ok=True,
    )
    _galaxy(env, "install", str(tarball), "-p", str(work / "collections"))
    return work / "collections"
