"""The IAM emulator answers as IAM does where moto does not: each rule, read through plain boto3."""

from __future__ import annotations

import concurrent.futures
import time

import boto3
import botocore.config
import botocore.exceptions
import pytest

from tools.certs import make_certificate
from tools.harness import iam_client
from tools.iam_emulator import IamEmulator, IamRules
from tools.loopback_proxy import DROP, LoopbackProxy

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def emulator():
    with IamEmulator(IamRules()) as running:
        yield running


@pytest.fixture
def rules(emulator) -> IamRules:
    emulator.reset()  # the settings the rules were made with, too
    emulator.proxy.fault = None
    return emulator.rules


@pytest.fixture
def iam(emulator, rules):
    client = iam_client(emulator.url)
    for name in ("alice", "bob"):
        client.create_user(UserName=name)
    return client


def client(endpoint: str, attempts: int | None = None, key: dict | None = None):
    """A boto3 IAM client on the endpoint: dummy credentials (or an access key of the emulator's), and at most
    `attempts` attempts per call (None: botocore's default retries)."""
    retries = {"total_max_attempts": attempts, "mode": "standard"} if attempts else None
    return boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"] if key else "testing",
        aws_secret_access_key=key["SecretAccessKey"] if key else "testing",
        config=botocore.config.Config(retries=retries) if retries else None,
    )


def error_of(call) -> botocore.exceptions.ClientError:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call()
    return raised.value


def code(error: botocore.exceptions.ClientError) -> tuple[int, str]:
    return error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]["Code"]


def test_a_certificate_any_user_of_the_account_holds_is_a_duplicate(iam):
    body = make_certificate("shared")
    iam.upload_signing_certificate(UserName="alice", CertificateBody=body)
    for user in ("bob", "alice"):
        refused = error_of(lambda user=user: iam.upload_signing_certificate(UserName=user, CertificateBody=body))
        assert code(refused) == (409, "DuplicateCertificate")
    assert iam.list_signing_certificates(UserName="bob")["Certificates"] == []


def test_racing_uploads_of_one_certificate_leave_one_copy(iam, emulator):
    body = make_certificate("raced")
    for number in range(6):
        iam.create_user(UserName=f"racer{number}")
    clients = [client(emulator.url, attempts=1) for _racer in range(6)]

    def upload(number: int) -> str:
        try:
            clients[number].upload_signing_certificate(UserName=f"racer{number}", CertificateBody=body)
            return "uploaded"
        except botocore.exceptions.ClientError as error:
            return error.response["Error"]["Code"]

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = sorted(pool.map(upload, range(6)))
    assert answers == ["DuplicateCertificate"] * 5 + ["uploaded"]


def test_listings_come_in_pages_shorter_than_asked_when_iam_says_so(iam, rules):
    for number in range(25):
        iam.create_user(UserName=f"user{number:02}")
    rules.short_pages = 7
    first = iam.list_users(MaxItems=100)
    assert len(first["Users"]) == 7 and first["IsTruncated"] and first["Marker"]
    pages = list(iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 100}))
    assert [len(page["Users"]) for page in pages] == [7, 7, 7, 6]
    assert len({user["UserName"] for page in pages for user in page["Users"]}) == 27

    iam.upload_signing_certificate(UserName="alice", CertificateBody=make_certificate("one"))
    iam.upload_signing_certificate(UserName="alice", CertificateBody=make_certificate("two"))
    page = iam.list_signing_certificates(UserName="alice", MaxItems=1)
    assert len(page["Certificates"]) == 1 and page["IsTruncated"]
    rest = iam.list_signing_certificates(UserName="alice", MaxItems=1, Marker=page["Marker"])
    assert len(rest["Certificates"]) == 1 and not rest["IsTruncated"]
    assert rest["Certificates"][0]["CertificateId"] != page["Certificates"][0]["CertificateId"]

    too_many = error_of(lambda: iam.list_users(MaxItems=1001))
    assert code(too_many) == (400, "ValidationError") and "between 1 and 1000" in str(too_many)
    bad_marker = error_of(lambda: iam.list_users(Marker="nonsense"))
    assert code(bad_marker) == (400, "ValidationError")


def test_a_status_other_than_active_or_inactive_is_a_validation_error(iam):
    certificate_id = iam.upload_signing_certificate(UserName="alice", CertificateBody=make_certificate("s"))[
        "Certificate"
    ]["CertificateId"]
    refused = error_of(
        lambda: iam.update_signing_certificate(UserName="alice", CertificateId=certificate_id, Status="Expired")
    )
    assert code(refused) == (400, "ValidationError") and "[Active, Inactive]" in str(refused)
    assert iam.list_signing_certificates(UserName="alice")["Certificates"][0]["Status"] == "Active"


def test_a_user_with_certificates_cannot_be_deleted_and_the_quota_holds(iam):
    first = iam.upload_signing_certificate(UserName="alice", CertificateBody=make_certificate("q1"))
    iam.upload_signing_certificate(UserName="alice", CertificateBody=make_certificate("q2"))
    assert code(
        error_of(lambda: iam.upload_signing_certificate(UserName="alice", CertificateBody=make_certificate("q3")))
    ) == (409, "LimitExceeded")
    assert code(error_of(lambda: iam.delete_user(UserName="alice"))) == (409, "DeleteConflict")
    for certificate in iam.list_signing_certificates(UserName="alice")["Certificates"]:
        iam.delete_signing_certificate(UserName="alice", CertificateId=certificate["CertificateId"])
    iam.delete_user(UserName="alice")
    assert first  # the user is gone only once its certificates are


def test_listings_lag_behind_writes_for_the_consistency_delay(iam, emulator, rules):
    rules.consistency_delay = 0.6
    truth = iam_client(emulator.moto_url)
    uploaded = iam.upload_signing_certificate(UserName="alice", CertificateBody=make_certificate("late"))
    new_id = uploaded["Certificate"]["CertificateId"]
    assert iam.list_signing_certificates(UserName="alice")["Certificates"] == []
    assert [c["CertificateId"] for c in truth.list_signing_certificates(UserName="alice")["Certificates"]] == [new_id]
    assert iam.list_signing_certificates(UserName="bob")["Certificates"] == []  # other users: not affected
    time.sleep(0.7)
    assert [c["Status"] for c in iam.list_signing_certificates(UserName="alice")["Certificates"]] == ["Active"]

    iam.update_signing_certificate(UserName="alice", CertificateId=new_id, Status="Inactive")
    assert [c["Status"] for c in iam.list_signing_certificates(UserName="alice")["Certificates"]] == ["Active"]
    iam.delete_signing_certificate(UserName="alice", CertificateId=new_id)  # the window restarts from here
    assert [c["Status"] for c in iam.list_signing_certificates(UserName="alice")["Certificates"]] == ["Active"]
    time.sleep(0.7)
    assert iam.list_signing_certificates(UserName="alice")["Certificates"] == []
    assert rules.stale_listings == 3


def test_requests_above_the_rate_are_throttled_as_iam_answers(iam, emulator, rules):
    rules.throttle_rate, rules.throttle_burst = 5.0, 5
    once = client(emulator.url, attempts=1)
    answers = []
    for _attempt in range(12):
        try:
            once.list_signing_certificates(UserName="alice")
            answers.append("ok")
        except botocore.exceptions.ClientError as error:
            answers.append(f"{error.response['Error']['Code']}: {error.response['Error']['Message']}")
    assert "Throttling: Rate exceeded" in answers and answers[:5] == ["ok"] * 5, answers
    patient = client(emulator.url, attempts=10)
    for _attempt in range(8):
        patient.list_signing_certificates(UserName="alice")  # botocore backs off and gets through
    assert rules.answered["Throttling"] >= 1


def test_an_omitted_user_name_is_the_caller(iam, emulator):
    key = iam.create_access_key(UserName="bob")["AccessKey"]
    bob = client(emulator.url, key=key)
    uploaded = bob.upload_signing_certificate(CertificateBody=make_certificate("bobs"))["Certificate"]
    assert uploaded["UserName"] == "bob"
    assert [c["CertificateId"] for c in bob.list_signing_certificates()["Certificates"]] == [uploaded["CertificateId"]]


def test_a_dropped_connection_reaches_the_client_as_one(iam, emulator, rules):
    emulator.proxy.fault = lambda request: DROP if request.action == "ListSigningCertificates" else None
    once = client(emulator.url, attempts=1)
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        once.list_signing_certificates(UserName="alice")


def test_a_lost_endpoint_accepts_no_connection_any_more(iam, emulator):
    from tools.iam_faults import FaultInjector

    faults = FaultInjector()
    faults.lose_endpoint(after=1)
    with LoopbackProxy(emulator.url, fault=faults) as proxy:
        once = client(proxy.url, attempts=2)
        once.list_signing_certificates(UserName="alice")
        with pytest.raises(botocore.exceptions.EndpointConnectionError):
            once.list_signing_certificates(UserName="alice")
    assert proxy.lost


def test_the_rules_answer_the_same_in_process_under_mock_aws():
    """Unit tests meet IAM's rules without a server: the emulator's in-process front, before moto's mock."""
    from moto import mock_aws

    from tools.iam_emulator import InProcessFront

    now = [1000.0]
    with mock_aws():
        boto3.session.Session().client("iam", region_name="us-east-1").create_user(UserName="carol")
        rules = IamRules(consistency_delay=2, clock=lambda: now[0])
        with InProcessFront(rules=rules).install():
            client = boto3.session.Session().client("iam", region_name="us-east-1")  # a new session: in the front
            body = make_certificate("in-process")
            client.upload_signing_certificate(UserName="carol", CertificateBody=body)
            assert client.list_signing_certificates(UserName="carol")["Certificates"] == []
            now[0] += 2
            assert len(client.list_signing_certificates(UserName="carol")["Certificates"]) == 1
            refused = error_of(lambda: client.upload_signing_certificate(UserName="carol", CertificateBody=body))
            assert code(refused) == (409, "DuplicateCertificate")
