"""End-to-end fixtures: a moto server on 127.0.0.1, the collection built and installed once, ansible runners.

Every ansible process sees only the collection installed from the built tarball (never the checkout),
dummy credentials, and no ~/.aws. The server's state is reset before each test.
"""

from __future__ import annotations

import logging
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.certs import make_certificate
from tests.e2e.helpers import BIN, REPO, USER, Ansible, base_env


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server on the loopback interface only, on a free port."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request only adds noise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        assert host == "127.0.0.1"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def reset_server(moto_endpoint: str) -> None:
    """Every test starts from an empty account."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


@pytest.fixture(scope="session")
def ansible_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ansible_home")


def galaxy(env: dict[str, str], *args: str) -> None:
    argv = [str(BIN / "ansible-galaxy"), "collection", *args]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout}{done.stderr}"


@pytest.fixture(scope="session")
def collections_path(tmp_path_factory: pytest.TempPathFactory, ansible_home: Path) -> Path:
    """The collection built with ansible-galaxy and installed from the tarball, as a user would get it."""
    env = base_env(ansible_home)
    build_dir = tmp_path_factory.mktemp("build")
    galaxy(env, "build", str(REPO), "--output-path", str(build_dir))
    (tarball,) = build_dir.glob("certops-aws-*.tar.gz")
    installed = tmp_path_factory.mktemp("collections")
    galaxy(env, "install", str(tarball), "-p", str(installed))
    assert (installed / "ansible_collections/certops/aws/plugins/modules/iam_signing_certificate.py").is_file()
    return installed


@pytest.fixture(scope="session")
def ansible_env(ansible_home: Path, collections_path: Path) -> dict[str, str]:
    return base_env(ansible_home, collections_path)


@pytest.fixture
def ansible(ansible_env: dict[str, str], moto_endpoint: str, tmp_path: Path) -> Ansible:
    return Ansible(ansible_env, tmp_path, moto_endpoint)


@pytest.fixture
def iam(moto_endpoint: str):
    """A plain boto3 IAM client on the server: the tests' independent view of what was written."""
    return boto3.client(
        "iam",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def user(iam) -> str:
    iam.create_user(UserName=USER)
    return USER


@pytest.fixture
def pem_file(tmp_path: Path) -> Callable[..., tuple[Path, str]]:
    """A factory: pem_file('name', days=365) writes a real self-signed certificate, returns (path, PEM)."""

    def write(common_name: str, days: float = 365, starts_in_days: float = -1) -> tuple[Path, str]:
        pem = make_certificate(common_name, days=days, starts_in_days=starts_in_days)
        path = tmp_path / f"{common_name}.pem"
        path.write_text(pem)
        return path, pem

    return write
