"""Faults and races end to end: a loopback proxy in front of the IAM emulator plays throttling, 5xx and a hung
endpoint, and two ansible-playbook processes race for the same user (the emulator answers DuplicateCertificate and
the quota as IAM does).
"""

from __future__ import annotations

import concurrent.futures
import socket
import threading

import pytest

from tests.e2e.helpers import USER, Ansible, fingerprint, localhost_play, server_certificates, upload
from tools.loopback_proxy import CannedResponse, LoopbackProxy, ProxyRequest, aws_error

pytestmark = pytest.mark.e2e

UPLOAD_PLAY = localhost_play(
    "Put one signing certificate on a user",
    """\
    tasks:
      - name: upload
        certops.aws.iam_signing_certificate:
          user_name: "{{ user }}"
          certificate_body: "{{ lookup('ansible.builtin.file', cert) }}"
          state: "{{ wanted_state | default('present') }}"
    """,
)


class FailFirst:
    """Answer the first `times` calls of one action with an error, then let everything through."""

    def __init__(self, action: str, code: str, status: int, times: int) -> None:
        self.action, self.code, self.status, self.left = action, code, status, times
        self.injected = 0

    def __call__(self, request: ProxyRequest) -> CannedResponse | None:
        if request.action != self.action or self.left == 0:
            return None
        self.left -= 1
        self.injected += 1
        return aws_error(self.code, f"injected {self.code}", self.status)


def run_upload(ansible: Ansible, endpoint: str, pem_path, **extra):
    """The upload play against `endpoint` (the proxy, or the server itself)."""
    play = UPLOAD_PLAY.replace('"{{ endpoint }}"', f'"{endpoint}"')
    return ansible.playbook(play, {"user": USER, "cert": str(pem_path), **extra})


def test_a_burst_of_throttling_then_success(ansible, iam_endpoint, iam, user, pem_file):
    path, pem = pem_file("patient")
    fault = FailFirst("ListSigningCertificates", "Throttling", 400, times=3)
    with LoopbackProxy(iam_endpoint, fault=fault) as proxy:
        run = run_upload(ansible, proxy.url, path)
    assert run.rc == 0, run.output
    assert fault.injected == 3
    assert [c["fingerprint"] for c in server_certificates(iam).values()] == [fingerprint(pem)]


def test_persistent_service_failure_fails_clearly_and_writes_nothing(ansible, iam_endpoint, iam, user, pem_file):
    path, _pem = pem_file("unlucky")
    fault = FailFirst("UploadSigningCertificate", "ServiceFailure", 500, times=100)
    with LoopbackProxy(iam_endpoint, fault=fault) as proxy:
        run = run_upload(ansible, proxy.url, path)
    assert run.rc == 2, run.output
    message = run.result("upload")["msg"]
    assert message.startswith(f"Could not upload a signing certificate to IAM user {USER!r}: IAM refused the request")
    assert "(ServiceFailure: injected ServiceFailure)" in message
    assert fault.injected == 4  # botocore's standard retry mode, 4 attempts in all
    assert server_certificates(iam) == {}


def test_inactive_upload_with_a_failing_update_reports_what_was_done(ansible, iam_endpoint, iam, user, pem_file):
    """Upload then deactivate: if the second write fails, the certificate stays uploaded and active, and the
    failure says so; the next run finishes the job."""
    path, pem = pem_file("half")
    fault = FailFirst("UpdateSigningCertificate", "ServiceFailure", 500, times=4)
    with LoopbackProxy(iam_endpoint, fault=fault) as proxy:
        run = run_upload(ansible, proxy.url, path, wanted_state="inactive")
    assert run.rc == 2, run.output
    (only_id,) = server_certificates(iam)
    message = run.result("upload")["msg"]
    assert message.startswith(f"The certificate was uploaded as {only_id} (Active), but then: Could not set signing")
    assert message.endswith("Run the task again to finish")
    assert run.task("upload")["changed"]
    (only,) = server_certificates(iam).values()
    assert only == {"status": "Active", "fingerprint": fingerprint(pem)}

    again = run_upload(ansible, iam_endpoint, path, wanted_state="inactive")
    assert again.rc == 0 and again.changed("upload")
    assert [c["status"] for c in server_certificates(iam).values()] == ["Inactive"]


def test_a_hung_endpoint_fails_within_the_configured_timeout(ansible, tmp_path):
    """A server that accepts connections and never answers: the read timeout and retries bound the wait."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    try:
        run = ansible.adhoc(
            "certops.aws.iam_signing_certificate_info",
            {
                "user_name": USER,
                "endpoint_url": f"http://127.0.0.1:{port}",
                "retries": 2,
                "aws_config": {"read_timeout": 1, "connect_timeout": 1},
            },
        )
    finally:
        listener.close()
    assert run.rc == 2 and run.status == "FAILED!"
    assert run.result["msg"].startswith(
        f"Could not list the signing certificates of IAM user {USER!r}: "
        f"the IAM endpoint http://127.0.0.1:{port} could not be reached (Read timeout"
    )


class HoldListings:
    """Hold the first `hold` listings until all have arrived, so that the racing runs both read before either writes:
    the race happens every time, not by luck of timing. The emulator behind answers the uploads as IAM does
    (DuplicateCertificate checked atomically with the upload, the quota)."""

    def __init__(self, hold: int) -> None:
        self.barrier = threading.Barrier(hold, timeout=60)
        self.count_lock = threading.Lock()
        self.to_hold = hold

    def __call__(self, request: ProxyRequest) -> CannedResponse | None:
        if request.action == "ListSigningCertificates":
            with self.count_lock:
                hold, self.to_hold = self.to_hold > 0, self.to_hold - 1
            if hold:
                self.barrier.wait()
        return None


def race(ansible: Ansible, endpoint: str, paths) -> list:
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda path: run_upload(ansible, endpoint, path), paths))


def test_two_runs_putting_the_same_certificate_end_with_one_copy(ansible, iam_endpoint, emulator, iam, user, pem_file):
    path, pem = pem_file("contended")
    with LoopbackProxy(iam_endpoint, fault=HoldListings(2)) as proxy:
        runs = race(ansible, proxy.url, [path, path])
    assert [run.rc for run in runs] == [0, 0], [run.output for run in runs]
    assert emulator.rules.answered == {"DuplicateCertificate": 1}
    assert sorted(run.changed("upload") for run in runs) == [False, True]
    (only,) = server_certificates(iam).values()
    assert only == {"status": "Active", "fingerprint": fingerprint(pem)}
    ids = {run.result("upload")["certificate"]["certificate_id"] for run in runs}
    assert ids == set(server_certificates(iam))


def test_two_different_certificates_never_pass_the_quota_silently(ansible, iam_endpoint, iam, user, pem_file):
    existing = upload(iam, pem_file("existing")[1])
    first, second = pem_file("racer-1")[0], pem_file("racer-2")[0]
    with LoopbackProxy(iam_endpoint, fault=HoldListings(2)) as proxy:
        runs = race(ansible, proxy.url, [first, second])
    assert sorted(run.rc for run in runs) == [0, 2], [run.output for run in runs]
    loser = next(run for run in runs if run.rc == 2)
    message = loser.result("upload")["msg"]
    assert message.startswith(f"IAM user {USER!r} already has 2 signing certificates: {existing} (Active)")
    assert len(server_certificates(iam)) == 2


def test_secrets_never_appear_even_at_vvvv(ansible, iam_endpoint, iam, user, pem_file):
    path, _pem = pem_file("secretive")
    secret, token = "wJalrXUtnFEMI-secret-value-K7MDENG", "FwoGZXIvYXdzE-session-token-value"
    play = UPLOAD_PLAY.replace(
        'endpoint_url: "{{ endpoint }}"',
        'endpoint_url: "{{ endpoint }}"\n      secret_key: "{{ the_secret }}"\n      session_token: "{{ the_token }}"',
    )
    for verbosity in (0, 4):
        run = ansible.playbook(
            play, {"user": USER, "cert": str(path), "the_secret": secret, "the_token": token}, verbosity=verbosity
        )
        assert run.rc == 0, run.output
        assert secret not in run.output and token not in run.output
        assert secret not in str(run.tasks) and token not in str(run.tasks)
