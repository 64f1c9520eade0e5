"""End-to-end fixtures: the IAM emulator (IAM's rules in front of a moto server) on 127.0.0.1, the collection
built and installed once, ansible runners.

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
from tools.harness import iam_client, iam_emulator, install_collection
from tools.iam_emulator import IamEmulator


@pytest.fixture(scope="session")
def emulator() -> Iterator[IamEmulator]:
    """The IAM emulator on the loopback interface only: IAM's rules in front of a moto server
    ($CERTOPS_PLAIN_MOTO: plain moto)."""
    with iam_emulator() as running:
        yield running


@pytest.fixture(scope="session")
def iam_endpoint(emulator: IamEmulator) -> str:
    """The endpoint the collection is given: the emulator's front."""
    return emulator.url


@pytest.fixture(autouse=True)
def reset_server(emulator: IamEmulator, request: pytest.FixtureRequest) -> None:
    """Every test starts from an empty account; IAM's consistency delay is the test's marker's (0 without one)."""
    emulator.reset()
    if emulator.rules is not None:
        marker = request.node.get_closest_marker("consistency_delay")
        emulator.rules.consistency_delay = marker.args[0] if marker else 0.0


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
def ansible(ansible_env: dict[str, str], iam_endpoint: str, tmp_path: Path) -> Ansible:
    return Ansible(ansible_env, tmp_path, iam_endpoint)


@pytest.fixture
def iam(emulator: IamEmulator):
    """A plain boto3 IAM client on moto itself: the tests' independent view of what was written, never lagging."""
    return iam_client(emulator.moto_url)


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
def fleet(ansible, iam, iam_endpoint, tmp_path) -> Fleet:
    """Hosts that hold signing keys (the local connection, a directory and an IAM user each)."""
    return Fleet(ansible, iam, iam_endpoint, tmp_path / "hosts")
