# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""X.509 certificate handling: PEM normalisation (RFC 7468), DER fingerprint, parsed fields, time rules.

No AWS call is made here. A certificate's identity is the SHA-256 of its DER
bytes: PEM text differs in line endings, wrapping and blank lines, so two
bodies are the same certificate exactly when their fingerprints are equal.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - reported by the modules
    HAS_CRYPTOGRAPHY = False

# IAM's limit on CertificateBody; it applies to the normalised block this collection sends.
MAX_BODY_LENGTH = 16384
ONE_DAY = datetime.timedelta(days=1)

# The role host_signing_certificate names, in every certificate it makes, the host, the IAM user, the directory and
# the account label it was made for: a subject alternative name
# URI:urn:certops:aws:made-for:<host>:<user>:<directory>:<account>, each percent-encoded (the account may be empty).
MADE_FOR_PREFIX = "urn:certops:aws:made-for:"

# Texts longer than this are refused before any parsing: a certificate with explanatory text is far shorter.
MAX_TEXT_LENGTH = 1024 * 1024
# RFC 7468 encapsulation boundaries, one per match; a label is what lies between the keyword and the next
# "-----" on the same line. Pairing BEGIN with END is done in one pass over the matches (no backtracking).
_BOUNDARY = re.compile(r"-----(BEGIN|END) ([^\n]*?)-----")
_PRIVATE_KEY = "PRIVATE KEY"
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/=\s]+")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/=]{16,}")
# How many base64 runs of a text holding a private key are masked one by one (a 16 kB key has about 260).
_MAX_MASKED_RUNS = 1000


class CertificateError(ValueError):
    """A certificate body that cannot be used. The message never contains the body."""


@dataclass(frozen=True)
class Certificate:
    """A parsed X.509 certificate and its normalised PEM block (what is sent to IAM)."""

    pem: str
    fingerprint_sha256: str
    subject: str
    issuer: str
    serial_number: int
    not_before: datetime.datetime
    not_after: datetime.datetime
    # SHA-256 of the DER SubjectPublicKeyInfo: a private key belongs to this certificate when its public half hashes
    # the same. None when cryptography cannot read the key type.
    public_key_sha256: str | None = None
    # (host, IAM user name, directory, account label) of the made-for URI (MADE_FOR_PREFIX), or None.
    made_for: tuple[str, str, str, str] | None = None

    def days_to_expiry(self, now: datetime.datetime) -> int:
        return days_to_expiry(self.not_after, now)

    def fields(self, now: datetime.datetime) -> dict[str, Any]:
        """The parsed fields as returned by the modules (snake_case, ISO 8601 UTC)."""
        return {
            "fingerprint_sha256": self.fingerprint_sha256,
            "subject": self.subject,
            "issuer": self.issuer,
            # A string: about 160 bits, more than a JSON number holds exactly (JavaScript rounds it).
            "serial_number": str(self.serial_number),
            "serial_number_hex": serial_hex(self.serial_number),
            "not_before": iso8601(self.not_before),
            "not_after": iso8601(self.not_after),
            "days_to_expiry": self.days_to_expiry(now),
        }


EMPTY_FIELDS: dict[str, Any] = dict.fromkeys(
    (
        "fingerprint_sha256",
        "subject",
        "issuer",
        "serial_number",
        "serial_number_hex",
        "not_before",
        "not_after",
        "days_to_expiry",
    )
)


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def iso8601(moment: datetime.datetime) -> str:
    """ISO 8601 in UTC with a Z suffix, e.g. 2026-11-26T12:00:00Z."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso8601(text: str | None) -> datetime.datetime | None:
    """The moment of an ISO 8601 UTC string as written by iso8601(); None for None."""
    if text is None:
        return None
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def days_to_expiry(not_after: datetime.datetime, now: datetime.datetime) -> int:
    """Whole days from now until not_after, rounded down: 0 during the last 24 hours of validity,
    -1 during the first 24 hours after expiry."""
    return (not_after - now) // ONE_DAY


def expires_within(not_after: datetime.datetime, days: int, now: datetime.datetime) -> bool:
    """Whether a certificate ending at not_after expires within `days` days of now: not_after <= now + days."""
    return not_after <= now + datetime.timedelta(days=days)


def serial_hex(serial_number: int) -> str:
    """The serial number as openssl prints it: upper-case hex, an even number of digits."""
    digits = f"{serial_number:X}"
    return digits.rjust(len(digits) + len(digits) % 2, "0")


def fingerprint(der: bytes) -> str:
    """SHA-256 of DER bytes, as colon-separated upper-case hex (the openssl form)."""
    return ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())


def made_for_uri(host: str, user_name: str, directory: str, account: str = "") -> str:
    """The subject alternative name URI that records the host, IAM user, signing directory and account label a
    certificate was made for (a host may sign for several users, or for one user name in several accounts, from
    several directories)."""
    parts = (quote(part, safe="") for part in (host, user_name, directory, account))
    return MADE_FOR_PREFIX + ":".join(parts)


def parse_made_for(uri: str) -> tuple[str, str, str, str] | None:
    """(host, user name, directory, account label or "") of a made-for URI, or None when the URI is not one."""
    if not uri.startswith(MADE_FOR_PREFIX):
        return None
    parts = uri[len(MADE_FOR_PREFIX) :].split(":")
    if len(parts) != 4 or not all(parts[:3]):
        return None
    return unquote(parts[0]), unquote(parts[1]), unquote(parts[2]), unquote(parts[3])


def _made_for(cert: Any) -> tuple[str, str, str, str] | None:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = names.get_values_for_type(x509.UniformResourceIdentifier)
    except (x509.ExtensionNotFound, ValueError):
        return None
    found = {parsed for parsed in map(parse_made_for, uris) if parsed is not None}
    # Two different claims in one certificate name nobody: it is nobody's to retire.
    return found.pop() if len(found) == 1 else None


def public_key_sha256(public_key: Any) -> str:
    """SHA-256 (lower-case hex) of a public key's DER SubjectPublicKeyInfo."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def private_key_public_sha256(data: bytes) -> str:
    """public_key_sha256 of the public half of a PEM private key (unencrypted). The key itself is not kept or
    returned, and no message quotes it. Raises CertificateError when the data is not such a key."""
    if not HAS_CRYPTOGRAPHY:  # pragma: no cover
        raise CertificateError("cannot be read: the Python library 'cryptography' is not installed")
    try:
        # The public half is all that is wanted: skipping RSA's consistency checks saves most of the load time.
        key = serialization.load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
        return public_key_sha256(key.public_key())
    except Exception:  # any failure means the same: not a readable key; never quote it
        raise CertificateError("is not a readable private key (corrupt, encrypted, or not a key)") from None


def strings_in(value: Any) -> Iterator[str]:
    """Every string inside an option value, however deeply nested: mapping keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings_in(item)


def contains_private_key(text: str) -> bool:
    """Whether a text carries private-key material (any '... PRIVATE KEY' PEM label)."""
    return _PRIVATE_KEY in text


def private_key_fragments(text: str) -> set[str]:
    """What to mask in a text that carries a private key: the text and its repr(), and every run of base64 in
    it, so that no part of the key shows where a message quotes a piece of the text, its repr() or JSON, even
    when the key's line breaks were pasted as the characters \\n or its END line is missing."""
    fragments = {text, repr(text)[1:-1]}
    lines = text.replace("\\r", "\n").replace("\\n", "\n")
    for number, run in enumerate(_BASE64_RUN.finditer(lines)):
        if number == _MAX_MASKED_RUNS:
            break
        fragments.add(run.group(0))
    return fragments


def _pem_blocks(text: str) -> tuple[list[tuple[str, str]], int, bool]:
    """The BEGIN..END blocks of a text as (label, payload), how many boundaries it has, and whether each
    boundary has its partner (no END without BEGIN, no BEGIN without END, no block inside a block)."""
    blocks: list[tuple[str, str]] = []
    boundaries, paired = 0, True
    open_label, payload_start = None, 0
    for boundary in _BOUNDARY.finditer(text):
        boundaries += 1
        kind, label = boundary.group(1), boundary.group(2)
        if kind == "BEGIN":
            paired = paired and open_label is None
            open_label, payload_start = label, boundary.end()
        elif open_label == label:
            blocks.append((label, text[payload_start : boundary.start()]))
            open_label = None
        else:
            paired, open_label = False, None
    return blocks, boundaries, paired and open_label is None


def _not_pem(body: str) -> CertificateError:
    """The refusal of a body without any PEM boundary, with a hint for the usual mistakes."""
    if "\x00" in body or any(ord(character) > 0x7F for character in body):
        hint = (
            " It looks like binary data (DER?): convert it with "
            "'openssl x509 -inform der -in cert.der -out cert.pem' and give the PEM text"
        )
    elif _BASE64_TEXT.fullmatch(body):
        hint = " It looks like bare base64: wrap it in those BEGIN and END lines"
    else:
        hint = ""
    return CertificateError(
        f"is not PEM: expected one '-----BEGIN CERTIFICATE-----' ... '-----END CERTIFICATE-----' block.{hint}"
    )


def normalise_pem(body: str) -> bytes:
    """The DER bytes of the single CERTIFICATE block of a PEM text, per RFC 7468.

    Explanatory text around the block (such as openssl's "Bag Attributes" preamble), a byte-order mark,
    CRLF line endings, indentation and any wrapping are tolerated. A private key, a chain of certificates,
    any other block, or no block at all are refused.
    """
    if len(body) > MAX_TEXT_LENGTH:
        raise CertificateError(
            f"is {len(body)} characters long; a certificate is a few thousand (IAM accepts at most {MAX_BODY_LENGTH})"
        )
    if contains_private_key(body):
        raise CertificateError(
            "contains a private key (a 'PRIVATE KEY' block); give only the public certificate."
            " The key was not sent anywhere and is not shown"
        )
    blocks, boundaries, paired = _pem_blocks(body.lstrip("\ufeff"))
    if not boundaries:
        raise _not_pem(body)
    if not paired:
        raise CertificateError("is not complete PEM: a '-----BEGIN' or '-----END' line has no partner")
    other = sorted({label for label, _payload in blocks if label != "CERTIFICATE"})
    if other:
        raise CertificateError(f"holds a {', '.join(other)} block; only one CERTIFICATE block is accepted")
    if len(blocks) > 1:
        raise CertificateError(f"holds {len(blocks)} certificates (a chain); give exactly one certificate per task")
    payload = "".join(blocks[0][1].split())
    try:
        der = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        der = b""
    if not der:
        raise CertificateError("is not valid PEM: the text between BEGIN and END is not base64")
    return der


def pem_block(der: bytes) -> str:
    """The strict RFC 7468 form: BEGIN line, base64 in lines of 64, END line, LF line endings."""
    lines = textwrap.wrap(base64.b64encode(der).decode("ascii"), 64)
    return "\n".join(["-----BEGIN CERTIFICATE-----", *lines, "-----END CERTIFICATE-----", ""])


def parse_certificate(body: str) -> Certificate:
    """Parse a PEM certificate text. Raises CertificateError with a message that never echoes the body."""
    if not isinstance(body, str) or not body.strip():
        raise CertificateError("is empty")
    der = normalise_pem(body)
    if not HAS_CRYPTOGRAPHY:  # pragma: no cover
        raise CertificateError("cannot be parsed: the Python library 'cryptography' is not installed")
    try:
        cert = x509.load_der_x509_certificate(der)
        try:
            public_sha256 = public_key_sha256(cert.public_key())
        except Exception:  # a key type cryptography cannot read: the certificate is still usable
            public_sha256 = None
        return Certificate(
            pem=pem_block(der),
            fingerprint_sha256=fingerprint(der),
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            serial_number=cert.serial_number,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            public_key_sha256=public_sha256,
            made_for=_made_for(cert),
        )
    except ValueError as exc:
        raise CertificateError(f"is not a valid X.509 certificate ({exc.__class__.__name__}: {exc})") from None


def load_certificate(body: str) -> Certificate:
    """Parse a certificate given by the user: parse_certificate, and IAM's length limit on what is sent."""
    certificate = parse_certificate(body)
    if len(certificate.pem) > MAX_BODY_LENGTH:
        raise CertificateError(
            f"is {len(certificate.pem)} characters long as a PEM block; IAM accepts at most {MAX_BODY_LENGTH}"
        )
    return certificate


def try_parse_certificate(body: str | None) -> Certificate | None:
    """Parse a body returned by IAM; None when it cannot be parsed (never fail on server data). A private-key
    block that another tool may have stored beside the certificate is left out."""
    if not body or len(body) > MAX_TEXT_LENGTH:
        return None
    try:
        return parse_certificate(without_private_keys(body))
    except CertificateError:
        return None


def without_private_keys(text: str) -> str:
    """The text without its private-key blocks (an unterminated one runs to the end)."""
    while contains_private_key(text):
        begin = text.find("-----BEGIN ")
        while begin != -1 and _PRIVATE_KEY not in text[begin : text.find("-----", begin + 11) + 5]:
            begin = text.find("-----BEGIN ", begin + 11)
        if begin == -1:
            return text.replace(_PRIVATE_KEY, "")
        end = text.find("-----END ", begin)
        stop = -1 if end == -1 else text.find("-----", end + 9)
        text = text[:begin] + ("" if stop == -1 else text[stop + 5 :])
    return text
