"""The modules against IAM's answers, end to end: the emulator's rules (DuplicateCertificate across users, listings
in short pages, listings behind writes) and faults in the middle of a fleet rotation (a dropped connection, a denied
owner lookup, the endpoint lost). What the results say is checked against moto itself, read with plain boto3."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import USER, fingerprint, localhost_play, server_certificates, upload
from tests.e2e.test_e2e_faults import UPLOAD_PLAY
from tests.fleet_truth import assert_results_are_what_iam_holds, holdings
from tools.certs import make_certificate
from tools.iam_faults import FaultInjector
from tools.loopback_proxy import DROP, LoopbackProxy, ProxyRequest, aws_error

pytestmark = pytest.mark.e2e

TWICE = localhost_play(
    "Upload, then make sure it is there",
    """\
    tasks:
      - name: upload
        certops.aws.iam_signing_certificate:
          user_name: "{{ user }}"
          certificate_body: "{{ lookup('ansible.builtin.file', cert) }}"
      - name: make sure
        certops.aws.iam_signing_certificate:
          user_name: "{{ user }}"
          certificate_body: "{{ lookup('ansible.builtin.file', cert) }}"
      - name: upload and wait
        certops.aws.iam_signing_certificate:
          user_name: "{{ user }}"
          certificate_body: "{{ lookup('ansible.builtin.file', other) }}"
          wait: true
      - name: read
        certops.aws.iam_signing_certificate_info:
          user_name: "{{ user }}"
    """,
)


@pytest.mark.consistency_delay(2)
def test_a_certificate_asserted_again_at_once_is_found_within_the_consistency_window(ansible, iam, user, pem_file):
    path, pem = pem_file("asserted")
    other_path, other = pem_file("waited-for")
    run = ansible.playbook(TWICE, {"user": USER, "cert": str(path), "other": str(other_path)})
    assert run.rc == 0, run.output
    assert run.changed("upload") and not run.changed("make sure")
    assert (
        run.result("make sure")["certificate"]["certificate_id"]
        == run.result("upload")["certificate"]["certificate_id"]
    )
    held = server_certificates(iam)
    assert sorted(c["fingerprint"] for c in held.values()) == sorted([fingerprint(pem), fingerprint(other)])
    # With wait, the next task reads what the write did, inside IAM's window.
    listed = {c["fingerprint_sha256"] for c in run.result("read")["certificates"]}
    assert fingerprint(other) in listed


@pytest.mark.parametrize("check", [True, False], ids=["check", "real"])
def test_a_certificate_another_user_holds_fails_naming_the_holder_and_writes_nothing(
    ansible, iam, user, pem_file, check
):
    iam.create_user(UserName="bob")
    path, pem = pem_file("bobs")
    upload(iam, pem, user_name="bob")
    run = ansible.playbook(UPLOAD_PLAY, {"user": USER, "cert": str(path)}, check=check)
    assert run.rc == 2, run.output
    assert "already uploaded to IAM user 'bob'" in run.result("upload")["msg"]
    assert server_certificates(iam) == {}


ROTATE = localhost_play(
    "Rotate a fleet",
    """\
    tasks:
      - name: rotate
        certops.aws.iam_signing_certificate_rotation:
          users: "{{ users }}"
          verify_delay: 0.5
          max_concurrency: 4
    """,
)


def seed_fleet(iam, names: list[str], expired_spare: frozenset[str] = frozenset()) -> list[dict]:
    """Users with one active certificate due for rotation and an inactive spare (expired for some)."""
    users = []
    for name in names:
        iam.create_user(UserName=name)
        upload(iam, make_certificate(f"{name}-old", days=5), user_name=name)
        spare_days = {"days": -1, "starts_in_days": -30} if name in expired_spare else {"days": 200}
        upload(iam, make_certificate(f"{name}-spare", **spare_days), user_name=name, status="Inactive")
        users.append({"user_name": name, "new_certificate": make_certificate(f"{name}-new")})
    return users


def converges(ansible, endpoint: str, users: list[dict], iam) -> None:
    """A rerun without the fault finishes every user; the run after it changes nothing."""
    names = [user["user_name"] for user in users]
    before = holdings(iam, names)
    again = ansible.playbook(ROTATE, {"users": users}, diff=True)
    assert again.rc == 0, again.output
    assert_results_are_what_iam_holds(again.result("rotate"), before, iam)
    third = ansible.playbook(ROTATE, {"users": users})
    assert third.rc == 0 and not third.changed("rotate"), third.output


@pytest.mark.consistency_delay(0.3)
def test_a_dropped_connection_fails_its_user_alone_and_a_denied_lookup_stops_nobody(ansible, iam, iam_endpoint):
    """The real run never lists the account before a delete (an expired spare cannot be needed, a valid one is put
    back if the upload fails), so a denied iam:ListUsers changes nothing of it."""
    names = [f"f{number:02}" for number in range(16)]
    users = seed_fleet(iam, names, expired_spare=frozenset({"f05", "f11"}))
    before = holdings(iam, names)

    def faults(request: ProxyRequest):
        if request.action == "ListSigningCertificates" and request.param("UserName") == "f08":
            return DROP  # every attempt of f08's listing
        if request.action == "ListUsers":
            return aws_error("AccessDenied", "not allowed to list users", 403)
        return None

    with LoopbackProxy(iam_endpoint, fault=faults) as proxy:
        run = ansible.playbook(ROTATE.replace('"{{ endpoint }}"', f'"{proxy.url}"'), {"users": users}, diff=True)
    assert run.rc == 2, run.output
    result = run.result("rotate")
    by_name = {entry["user_name"]: entry for entry in result["results"]}
    assert "IAM user 'f08'" in by_name["f08"]["msg"] and by_name["f08"]["error_code"] == "Unreachable"
    for name in ("f05", "f11"):
        assert by_name[name]["rotated"] and len(by_name[name]["deleted_to_make_room"]) == 1
    assert [name for name, entry in by_name.items() if entry["failed"]] == ["f08"]
    assert proxy.actions()["ListUsers"] == 0
    assert_results_are_what_iam_holds(result, before, iam)
    converges(ansible, iam_endpoint, users, iam)


@pytest.mark.consistency_delay(0.3)
def test_the_endpoint_lost_mid_run_leaves_the_rest_not_attempted_and_reported_so(ansible, iam, iam_endpoint):
    names = [f"l{number:02}" for number in range(40)]
    users = seed_fleet(iam, names)
    before = holdings(iam, names)
    # The listings (40), then the writes of about ten users: then the endpoint is gone for good.
    lose = FaultInjector()
    lose.lose_endpoint(after=89)
    with LoopbackProxy(iam_endpoint, fault=lose) as proxy:
        endpoint = proxy.url
        run = ansible.playbook(ROTATE.replace('"{{ endpoint }}"', f'"{endpoint}"'), {"users": users}, diff=True)
    assert run.rc == 2, run.output
    result = run.result("rotate")
    assert_results_are_what_iam_holds(result, before, iam)
    entries = result["results"]
    not_attempted = [entry for entry in entries if entry["msg"].startswith("not attempted: ")]
    assert not_attempted, [entry["msg"] for entry in entries]
    for entry in not_attempted:
        assert f"the IAM endpoint {endpoint} could not be reached" in entry["msg"]
        assert entry["error_code"] == "Unreachable" and not entry["changed"]
    assert any(entry["rotated"] for entry in entries)
    converges(ansible, iam_endpoint, users, iam)


@pytest.mark.consistency_delay(1)
def test_a_rotation_reads_short_pages_and_lagging_listings(ansible, iam, emulator):
    emulator.rules.short_pages = 1  # until the next test's reset
    names = [f"p{number}" for number in range(3)]
    users = seed_fleet(iam, names)
    before = holdings(iam, names)
    run = ansible.playbook(ROTATE, {"users": users}, diff=True)
    assert run.rc == 0, run.output
    assert_results_are_what_iam_holds(run.result("rotate"), before, iam)
    assert all(entry["rotated"] for entry in run.result("rotate")["results"])
    assert emulator.rules.stale_listings > 0


CHAIN = localhost_play(
    "Upload, deactivate, delete, each task reading what the one before wrote",
    """\
    tasks:
      - name: upload
        certops.aws.iam_signing_certificate:
          user_name: "{{ user }}"
          certificate_body: "{{ lookup('ansible.builtin.file', cert) }}"
          wait: true
      - name: deactivate
        certops.aws.iam_signing_certificate:
          user_name: "{{ user }}"
          certificate_body: "{{ lookup('ansible.builtin.file', cert) }}"
          state: inactive
          wait: true
      - name: read
        certops.aws.iam_signing_certificate_info:
          user_name: "{{ user }}"
      - name: delete
        certops.aws.iam_signing_certificate:
          user_name: "{{ user }}"
          certificate_body: "{{ lookup('ansible.builtin.file', cert) }}"
          state: absent
          wait: true
      - name: read again
        certops.aws.iam_signing_certificate_info:
          user_name: "{{ user }}"
    """,
)


@pytest.mark.consistency_delay(1.5)
def test_each_write_waited_for_is_what_the_next_task_reads(ansible, iam, user, pem_file, emulator):
    path, _pem = pem_file("chained")
    run = ansible.playbook(CHAIN, {"user": USER, "cert": str(path)})
    assert run.rc == 0, run.output
    assert all(run.changed(name) for name in ("upload", "deactivate", "delete"))
    assert [c["status"] for c in run.result("read")["certificates"]] == ["Inactive"]
    assert run.result("read again")["certificates"] == []
    assert server_certificates(iam) == {}
    assert emulator.rules.stale_listings > 0  # the window was there, and waited out
