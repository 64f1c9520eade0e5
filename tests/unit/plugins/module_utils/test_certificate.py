"""Certificate handling: one identity per certificate, whatever its PEM formatting; clear refusals."""

from __future__ import annotations

import base64
import datetime
import textwrap

import pytest

from ansible_collections.certops.aws.plugins.module_utils.certificate import (
    CertificateError,
    iso8601,
    load_certificate,
    pem_to_der,
    try_load_certificate,
)
from tools.certs import make_certificate, private_key_pem

PEM = make_certificate("fingerprint-me")


def rewrapped(body: str, width: int) -> str:
    lines = body.strip().splitlines()
    payload = "".join(lines[1:-1])
    return "\n".join([lines[0], *textwrap.wrap(payload, width), lines[-1]])


@pytest.mark.parametrize(
    "variant",
    [
        PEM.replace("\n", "\r\n"),
        "\n\n" + PEM + "\n\n\n",
        PEM.replace("\n", "\n\n"),
        rewrapped(PEM, 76),
        "  " + PEM.replace("\n", "\n  "),
        PEM.rstrip("\n"),
    ],
    ids=["crlf", "blank-lines-around", "blank-lines-inside", "wrapped-76", "indented", "no-final-newline"],
)
def test_formatting_does_not_change_the_fingerprint(variant):
    assert load_certificate(variant).fingerprint_sha256 == load_certificate(PEM).fingerprint_sha256


def test_fingerprint_is_sha256_of_der_in_openssl_form():
    import hashlib

    der = pem_to_der(PEM)
    expected = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
    assert load_certificate(PEM).fingerprint_sha256 == expected
    assert len(expected.split(":")) == 32


def test_parsed_fields():
    body = make_certificate("parsed-cn", days=10)
    fields = load_certificate(body).fields()
    assert fields["subject"] == "O=certops,CN=parsed-cn"
    assert fields["issuer"] == fields["subject"]
    assert isinstance(fields["serial_number"], int) and fields["serial_number"] > 0
    assert fields["not_after"].endswith("Z") and fields["not_before"].endswith("Z")
    not_after = datetime.datetime.strptime(fields["not_after"], "%Y-%m-%dT%H:%M:%SZ")
    assert fields["days_to_expiry"] == 9  # just under 10 whole days remain
    assert not_after > datetime.datetime.now() + datetime.timedelta(days=9)


def test_days_to_expiry_is_negative_once_expired():
    cert = load_certificate(make_certificate("old", days=-3, starts_in_days=-30))
    # Rounded down, so any expired certificate is negative: 3 days and some seconds ago is -4.
    assert cert.days_to_expiry() == -4
    assert load_certificate(make_certificate("just-expired", days=-0.01)).days_to_expiry() == -1
    assert not cert.is_valid_at()


def test_iso8601_converts_to_utc():
    moment = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    assert iso8601(moment) == "2026-01-02T01:04:05Z"


OTHER = make_certificate("second")
GARBAGE_BASE64 = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", "is empty"),
        (" \n\t", "is empty"),
        ("x" * 16385, "is 16385 characters long; IAM accepts at most 16384"),
        ("hello world", "is not PEM"),
        ("".join(PEM.splitlines()[1:-1]), "is not PEM"),  # bare base64, no armour
        (base64.b64decode("".join(PEM.splitlines()[1:-1])).decode("latin-1"), "is not PEM"),  # DER as text
        (PEM.split("-----END")[0], "no matching '-----END' line"),  # truncated
        (PEM + OTHER, "holds 2 certificates (a chain)"),
        (PEM.replace("MII", "MII!!"), "is not base64"),
        (GARBAGE_BASE64, "is not a valid X.509 certificate"),
        ("subject=CN=x\n" + PEM, "has text outside"),
        (PEM.replace("CERTIFICATE", "PUBLIC KEY"), "holds a PUBLIC KEY block"),
    ],
    ids=[
        "empty",
        "whitespace",
        "too-long",
        "plain-text",
        "bare-base64",
        "der",
        "truncated",
        "chain",
        "not-base64",
        "not-x509",
        "text-outside",
        "public-key",
    ],
)
def test_refused_bodies_name_the_problem(body, expected):
    with pytest.raises(CertificateError) as error:
        load_certificate(body)
    assert expected in str(error.value)


@pytest.mark.parametrize(
    "body", [private_key_pem(), PEM + private_key_pem(), private_key_pem().replace("PRIVATE", "RSA PRIVATE")]
)
def test_private_key_is_refused_without_echo(body):
    with pytest.raises(CertificateError) as error:
        load_certificate(body)
    message = str(error.value)
    assert "private key" in message
    key_lines = [line for line in body.splitlines() if line and not line.startswith("-----")]
    assert not any(line in message for line in key_lines)


def test_try_load_certificate_tolerates_server_data():
    assert try_load_certificate(None) is None
    assert try_load_certificate("garbage") is None
    assert try_load_certificate(PEM).subject == "O=certops,CN=fingerprint-me"
