"""End-to-end fixtures: a moto server on 127.0.0.1, the collection built and installed once, ansible runners.

Every ansible process sees only the collection installed from the built tarball (never the checkout),
dummy credentials, and no ~/.aws. The server's state is reset before each test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import USER, Ansible, base_env
from tests.e2e.host_fleet import Fleet
from tools.certs import make_certificate
from tools.harness import iam_client, install_collection, moto_server, reset_moto


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server on the loopback interface only, on a free port."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(autouse=True)
def reset_server(moto_endpoint: str) -> None:
    """Every test starts from an empty account."""
    reset_moto(moto_endpoint)


@pytest.fixture(scope="session")
def ansible_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ansible_home")


@pytest.fixture(scope="session")
def collections_path(tmp_path_factory: pytest.TempPathFactory, ansible_home: Path) -> Path:
    """The collection built with ansible-galaxy and installed from the tarball, as a user would get it."""
    installed = install_collection(base_env(ansible_home), tmp_path_factory.mktemp("build"))
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
    return iam_client(moto_endpoint)


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


@pytest.fixture
def fleet(ansible, iam, moto_endpoint, tmp_path) -> Fleet:
    """Hosts that hold signing keys (the local connection, a directory and an IAM user each)."""
    return Fleet(ansible, iam, moto_endpoint, tmp_path / "hosts")
