"""Fixtures for unit tests: moto's in-process IAM, real certificates, module runner, call counter."""

from __future__ import annotations

import contextlib
import datetime
import json
from unittest import mock

import boto3
import botocore.client
import pytest
from moto import mock_aws

from tools.certs import make_certificate
from tools.iam_emulator import IamRules, InProcessFront
from tools.iam_faults import FaultInjector

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core 2.17 and 2.18: AnsibleModule reads its arguments from basic._ANSIBLE_ARGS
    from ansible.module_utils import basic

    @contextlib.contextmanager
    def patch_module_args(args=None):
        """What ansible-core 2.19's ansible.module_utils.testing.patch_module_args does, the classic way."""
        serialized = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode()
        with mock.patch.object(basic, "_ANSIBLE_ARGS", serialized):
            yield


WRITE_OPERATIONS = {"UploadSigningCertificate", "UpdateSigningCertificate", "DeleteSigningCertificate"}


@pytest.fixture
def iam():
    """A plain boto3 IAM client on moto, with user alice; the independent view of the server."""
    with mock_aws():
        client = boto3.client("iam", region_name="us-east-1")
        client.create_user(UserName="alice")
        client.certops_observer = True  # the `calls` fixture counts the module's calls, not these
        yield client


@pytest.fixture
def cert():
    """A factory of PEM certificates: cert('name', days=365, starts_in_days=-1)."""
    return make_certificate


@pytest.fixture
def backoff_sleeps():
    """botocore's retry back-off, recorded instead of slept."""
    sleeps: list[float] = []
    with mock.patch("botocore.endpoint.time", mock.Mock(sleep=sleeps.append)):
        yield sleeps


@pytest.fixture
def front(iam):
    """The IAM emulator's in-process front (tools/iam_emulator.py) before every IAM client created after `iam`, so
    that the test's own view of the server is never faulted and never lags; it passes everything on until a fixture
    gives it faults (`inject`) or IAM's rules (`lag`)."""
    emulator_front = InProcessFront()
    with emulator_front.install():
        yield emulator_front


@pytest.fixture
def inject(front, backoff_sleeps):
    """A FaultInjector (tools/iam_faults.py) in the front: errors, dropped connections, a lost endpoint."""
    front.fault = FaultInjector()
    return front.fault


@pytest.fixture
def lag(front, clock):
    """IAM's rules in the front, on the fake clock of the module's waits: set lag.consistency_delay = N to make a
    user's listings show what they showed before a write for N seconds after it (lag.stale_listings counts them)."""
    front.rules = IamRules(clock=clock.monotonic)
    return front.rules


class FakeClock:
    """time.monotonic and time.sleep for a wait: a sleep is recorded and advances the clock at once."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    """The clock of the module's waits (module_utils/executor.py), faked: tests never sleep."""
    from ansible_collections.certops.aws.plugins.module_utils import executor

    fake = FakeClock()
    monkeypatch.setattr(executor, "time", fake)
    return fake


class CallLog(list):
    """Names of the IAM operations called, in order."""

    @property
    def writes(self) -> list[str]:
        return [name for name in self if name in WRITE_OPERATIONS]


@pytest.fixture
def calls():
    log = CallLog()
    original = botocore.client.BaseClient._make_api_call

    def record(client, operation_name, api_params):
        if not getattr(client, "certops_observer", False):
            log.append(operation_name)
        return original(client, operation_name, api_params)

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", record):
        yield log


def as_a_module():
    """A module's warnings go into its result, as on a target host, even after a test of this process imported
    controller code (ansible-core 2.19 then sends them to the controller's display instead)."""
    try:
        from ansible.module_utils import _internal
    except ImportError:  # ansible-core 2.17 and 2.18
        return contextlib.nullcontext()
    if not hasattr(_internal, "is_controller"):
        return contextlib.nullcontext()
    return mock.patch.object(_internal, "is_controller", False)


@pytest.fixture
def run(capsys):
    """Run a module's main() with args; return its JSON result (failed results included)."""

    def runner(module, args, check_mode=False, diff=False):
        module_args = {**args, "_ansible_check_mode": check_mode, "_ansible_diff": diff}
        with patch_module_args(module_args), as_a_module(), pytest.raises(SystemExit) as exit_info:
            module.main()
        out = capsys.readouterr().out
        result = json.loads(out)
        assert (exit_info.value.code == 0) == (not result.get("failed")), out
        assert "Traceback" not in out and "MODULE FAILURE" not in out
        return result

    return runner


def server_certificates(iam, user_name="alice"):
    """The user's certificates as the server has them, read with plain boto3: {id: status}."""
    listed = iam.list_signing_certificates(UserName=user_name)["Certificates"]
    return {c["CertificateId"]: c["Status"] for c in listed}


def days_from_now(days: float) -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
