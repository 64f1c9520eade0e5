"""Certificate handling: one identity per certificate, whatever its PEM formatting (RFC 7468); clear refusals;
the time rules (days to expiry, "within N days")."""

from __future__ import annotations

import base64
import datetime
import hashlib
import textwrap

import pytest

from ansible_collections.certops.aws.plugins.module_utils.certificate import (
    MAX_BODY_LENGTH,
    CertificateError,
    days_to_expiry,
    expires_within,
    iso8601,
    load_certificate,
    parse_certificate,
    parse_iso8601,
    private_key_fragments,
    serial_hex,
    try_parse_certificate,
)
from tools.certs import make_certificate, private_key_pem

PEM = make_certificate("fingerprint-me")
NOW = datetime.datetime(2026, 11, 27, 12, 0, 0, tzinfo=datetime.timezone.utc)
BAG_ATTRIBUTES = (
    "Bag Attributes\n"
    "    localKeyID: 01 00 00 00 \n"
    "    friendlyName: signing\n"
    "subject=CN = fingerprint-me, O = certops\n"
    "issuer=CN = fingerprint-me, O = certops\n"
)


def rewrapped(body: str, width: int) -> str:
    lines = body.strip().splitlines()
    payload = "".join(lines[1:-1])
    return "\n".join([lines[0], *textwrap.wrap(payload, width), lines[-1]])


@pytest.mark.parametrize(
    "variant",
    [
        PEM.replace("\n", "\r\n"),
        PEM.replace("\n", "\r"),
        "\ufeff" + PEM,
        "\n\n" + PEM + "\n\n\n",
        PEM.replace("\n", "\n\n"),
        rewrapped(PEM, 76),
        "".join(PEM.splitlines()[1:-1]).join(["-----BEGIN CERTIFICATE-----\n", "\n-----END CERTIFICATE-----"]),
        "  " + PEM.replace("\n", "\n  "),
        PEM.rstrip("\n"),
        PEM.replace("\n", " "),  # folded onto one line, as YAML's '>' does
        BAG_ATTRIBUTES + PEM,  # openssl pkcs12 -nokeys
        "Certificate of bob, valid one year:\n" + PEM + "\nsee the runbook\n",
    ],
    ids=[
        "crlf",
        "cr",
        "byte-order-mark",
        "blank-lines-around",
        "blank-lines-inside",
        "wrapped-76",
        "one-base64-line",
        "indented",
        "no-final-newline",
        "folded",
        "bag-attributes",
        "text-around",
    ],
)
def test_formatting_and_explanatory_text_do_not_change_the_identity_or_what_is_sent(variant):
    certificate = load_certificate(variant)
    assert certificate.fingerprint_sha256 == load_certificate(PEM).fingerprint_sha256
    assert certificate.pem == PEM  # the strict RFC 7468 form, which is what cryptography writes


def test_fingerprint_is_sha256_of_der_in_openssl_form():
    der = base64.b64decode("".join(PEM.splitlines()[1:-1]))
    expected = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
    assert load_certificate(PEM).fingerprint_sha256 == expected
    assert len(expected.split(":")) == 32


def test_parsed_fields():
    body = make_certificate("parsed-cn", days=10)
    fields = load_certificate(body).fields(datetime.datetime.now(datetime.timezone.utc))
    assert fields["subject"] == "O=certops,CN=parsed-cn"
    assert fields["issuer"] == fields["subject"]
    # A decimal string: a JSON number would lose digits in a JavaScript consumer (AWX's UI).
    assert isinstance(fields["serial_number"], str) and int(fields["serial_number"]) > 0
    assert int(fields["serial_number_hex"], 16) == int(fields["serial_number"])
    assert fields["not_after"].endswith("Z") and fields["not_before"].endswith("Z")
    assert fields["days_to_expiry"] == 9  # just under 10 whole days remain


@pytest.mark.parametrize(
    ("serial", "openssl"), [(1, "01"), (255, "FF"), (256, "0100"), (0x1A2B3C, "1A2B3C"), (0xABC, "0ABC")]
)
def test_serial_number_in_hex_as_openssl_prints_it(serial, openssl):
    assert serial_hex(serial) == openssl


@pytest.mark.parametrize(
    ("left", "days"),
    [
        (datetime.timedelta(days=10), 10),
        (datetime.timedelta(days=10, seconds=-1), 9),
        (datetime.timedelta(hours=23), 0),
        (datetime.timedelta(0), 0),
        (datetime.timedelta(seconds=-1), -1),
        (datetime.timedelta(hours=-23), -1),
        (datetime.timedelta(days=-1), -1),
        (datetime.timedelta(days=-1, seconds=-1), -2),
    ],
)
def test_days_to_expiry_is_whole_days_rounded_down(left, days):
    assert days_to_expiry(NOW + left, NOW) == days


@pytest.mark.parametrize(
    ("left", "within"),
    [
        (datetime.timedelta(days=30), True),  # not_after == now + 30 days: within 30 days, exactly
        (datetime.timedelta(days=30, seconds=1), False),
        (datetime.timedelta(days=30, hours=23), False),  # 30 whole days left, yet not within 30 days
        (datetime.timedelta(days=-400), True),  # already expired
    ],
)
def test_within_n_days_means_not_after_at_most_now_plus_n_days(left, within):
    assert expires_within(NOW + left, 30, NOW) is within


def test_iso8601_converts_to_utc_and_back():
    moment = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    assert iso8601(moment) == "2026-01-02T01:04:05Z"
    assert parse_iso8601("2026-01-02T01:04:05Z") == moment
    assert parse_iso8601(None) is None


OTHER = make_certificate("second")
GARBAGE_BASE64 = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
DER_AS_TEXT = base64.b64decode("".join(PEM.splitlines()[1:-1])).decode("latin-1")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", "is empty"),
        (" \n\t", "is empty"),
        ("hello world", "is not PEM: expected one '-----BEGIN CERTIFICATE-----'"),
        ("".join(PEM.splitlines()[1:-1]), "looks like bare base64"),
        (DER_AS_TEXT, "openssl x509 -inform der"),
        (PEM.split("-----END")[0], "has no partner"),  # truncated
        (PEM + "-----END CERTIFICATE-----\n", "has no partner"),
        (PEM + OTHER, "holds 2 certificates (a chain)"),
        (BAG_ATTRIBUTES + PEM + BAG_ATTRIBUTES + OTHER, "holds 2 certificates (a chain)"),
        (PEM.replace("MII", "MII!!"), "is not base64"),
        ("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", "is not base64"),
        (GARBAGE_BASE64, "is not a valid X.509 certificate"),
        (PEM.replace("CERTIFICATE", "PUBLIC KEY"), "holds a PUBLIC KEY block"),
        (PEM + PEM.replace("CERTIFICATE", "X509 CRL"), "holds a X509 CRL block"),
    ],
    ids=[
        "empty",
        "whitespace",
        "plain-text",
        "bare-base64",
        "der",
        "truncated",
        "stray-end",
        "chain",
        "chain-with-text",
        "not-base64",
        "empty-block",
        "not-x509",
        "public-key",
        "crl-beside",
    ],
)
def test_refused_bodies_name_the_problem(body, expected):
    with pytest.raises(CertificateError) as error:
        load_certificate(body)
    assert expected in str(error.value)


def test_the_length_limit_applies_to_the_normalised_block():
    # CRLF and explanatory text do not count: IAM receives the normalised block.
    padded = "x" * (MAX_BODY_LENGTH + 100) + "\n" + PEM.replace("\n", "\r\n")
    assert len(padded) > MAX_BODY_LENGTH
    assert load_certificate(padded).pem == PEM


def test_a_certificate_too_long_for_iam_is_refused():
    big = make_certificate("big-" + "x" * 50, extra_bytes=13000)
    with pytest.raises(CertificateError, match=r"is \d+ characters long as a PEM block; IAM accepts at most 16384"):
        load_certificate(big)
    assert parse_certificate(big).fingerprint_sha256  # server data is parsed whatever its length


@pytest.mark.parametrize(
    "body",
    [
        private_key_pem(),
        PEM + private_key_pem(),
        private_key_pem().replace("PRIVATE", "RSA PRIVATE"),
        BAG_ATTRIBUTES + private_key_pem() + PEM,
    ],
)
def test_private_key_is_refused_without_echo(body):
    with pytest.raises(CertificateError) as error:
        load_certificate(body)
    message = str(error.value)
    assert "private key" in message
    key_lines = [line for line in body.splitlines() if line and not line.startswith("-----")]
    assert not any(line in message for line in key_lines)


def test_private_key_fragments_cover_every_line_of_the_key_even_folded():
    key = private_key_pem()
    key_lines = [line for line in key.splitlines() if not line.startswith("-----")]
    for text in (PEM + key, (PEM + key).replace("\n", " "), (PEM + key).replace("\n", "\r\n")):
        fragments = private_key_fragments(text)
        assert text in fragments
        assert all(line in fragments for line in key_lines if len(line) >= 16)


def test_try_parse_certificate_tolerates_server_data():
    assert try_parse_certificate(None) is None
    assert try_parse_certificate("garbage") is None
    assert try_parse_certificate(PEM).subject == "O=certops,CN=fingerprint-me"
    # IAM may hold a body with explanatory text (uploaded by another tool): it is parsed all the same.
    assert try_parse_certificate(BAG_ATTRIBUTES + PEM).fingerprint_sha256 == load_certificate(PEM).fingerprint_sha256
