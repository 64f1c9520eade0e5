"""The IAM emulator: moto's server behind a loopback front that answers as IAM does where moto does not.

moto stores the users and certificates; the front (tools/loopback_proxy.py, on 127.0.0.1) applies IAM's rules
to each request before and after moto sees it. What each rule does, as IAM does it:

- DuplicateCertificate (409): an upload of a certificate that any user of the same account holds (compared by
  the SHA-256 of its DER), checked atomically with the upload, so two racing uploads give one copy.
- Paging: ListSigningCertificates and ListUsers answer in pages of MaxItems (default 100, 1 to 1000, else
  ValidationError) with IsTruncated and an opaque Marker; with `short_pages`, a page holds at most that many
  items however many were asked (IAM may return fewer than MaxItems with more to come).
- Status: UpdateSigningCertificate with a Status other than Active or Inactive is a ValidationError (400).
- DeleteConflict (409): deleting a user that still has signing certificates.
- The quota of 2 certificates per user (LimitExceeded, 409): moto's own rule, the same as IAM's.
- Eventual consistency: after a write to a user's certificates (upload, status, delete), that user's listings
  show what they showed before the write until `consistency_delay` seconds after the last write.
- Throttling: above `throttle_rate` requests a second per account (a bucket of `throttle_burst`), requests are
  answered 400 Throttling "Rate exceeded", as IAM answers them; botocore's retry modes back off and retry.
- An omitted UserName acts on the user whose access key signs the request (moto refuses it).

The consistency window is a model, not IAM's exact behaviour: a user's listings show the state from before the first
write of a burst until `consistency_delay` after its last write, then the truth; IAM may show some writes sooner,
others later, and never promises monotonic reads.

Not emulated: IAM's authorization (every signed request is allowed; moto's own IAM checks are off), signature
checks, the caller's own certificates when the caller is an account's root (an omitted UserName with credentials
that are not an IAM user's access key is moto's answer), the consistency of anything but signing certificates
(a new user is listed at once), user names that differ only in case (IAM takes them for the same user; moto does
not), whether IAM refuses an expired certificate (moto accepts it; the collection never counts on uploading one
again), and the exact text of IAM's messages beyond the codes and their meaning. moto's accounts live in the
process: an emulator starts by emptying them, and two emulators in one process share them.

    with IamEmulator(IamRules(consistency_delay=2)) as emulator:
        client = boto3.client("iam", endpoint_url=emulator.url, ...)   # through the rules
        truth = boto3.client("iam", endpoint_url=emulator.moto_url, ...)  # moto itself, never stale

CERTOPS_PLAIN_MOTO=1 makes `harness.iam_emulator()` (the end-to-end tests, `make demo`, `make emulator`) serve
plain moto instead. Unit tests meet the same rules without a server: InProcessFront puts them (and the faults a test
plans, tools/iam_faults.py) before moto's in-process mock.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import re
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tools.loopback_proxy import Answer, CannedResponse, Forward, LoopbackProxy, ProxyRequest, aws_error

NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
WRITES = ("UploadSigningCertificate", "UpdateSigningCertificate", "DeleteSigningCertificate")
PAGED = {"ListSigningCertificates": "Certificates", "ListUsers": "Users"}
STATUSES = ("Active", "Inactive")
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
# The rules' settings, which reset() puts back.
SETTINGS = (
    "consistency_delay",
    "short_pages",
    "throttle_rate",
    "throttle_burst",
    "duplicates",
    "validate_status",
    "delete_conflict",
    "caller_user",
)

ET.register_namespace("", NAMESPACE)


def _answer(canned: CannedResponse) -> Answer:
    return canned.status, list(canned.headers.items()), canned.body


def _fingerprint(body: str | None) -> str | None:
    """SHA-256 of the DER of a PEM certificate, or None if it is not one (moto answers MalformedCertificate)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        der = x509.load_pem_x509_certificate((body or "").encode()).public_bytes(Encoding.DER)
    except ValueError:
        return None
    return hashlib.sha256(der).hexdigest()


def _form(request: ProxyRequest) -> dict[str, str]:
    return {key: values[0] for key, values in urllib.parse.parse_qs(request.body.decode("utf-8", "replace")).items()}


def _with_form(request: ProxyRequest, form: dict[str, str]) -> ProxyRequest:
    body = urllib.parse.urlencode(form).encode()
    headers = {**request.headers, "Content-Length": str(len(body))}
    return ProxyRequest(request.number, request.method, request.path, headers, body)


def _access_key(request: ProxyRequest) -> str:
    found = _CREDENTIAL.search(request.headers.get("Authorization", ""))
    return found.group(1) if found else ""


def _moto_iam(access_key: str) -> tuple[str, Any]:
    """The account an access key belongs to (moto's rule: unknown keys are the default account) and its IAM."""
    from moto.iam.models import get_account_id_from, iam_backends

    account = get_account_id_from(access_key)
    return account, iam_backends[account]["aws"]


class _Bucket:
    """A token bucket: `rate` tokens a second, at most `burst` saved."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.at = float(burst), clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class IamRules:
    """IAM's rules in front of moto (see the module's docstring). Every rule can be changed while the emulator runs.

    consistency_delay: seconds a user's listings lag behind a write to its certificates (0: none).
    short_pages: at most this many items in a page of a listing, whatever MaxItems asks (None: MaxItems).
    throttle_rate / throttle_burst: requests a second per account before Throttling (None: never throttled).
    duplicates, validate_status, delete_conflict, caller_user: each rule on or off.
    """

    consistency_delay: float = 0.0
    short_pages: int | None = None
    throttle_rate: float | None = None
    throttle_burst: int = 20
    duplicates: bool = True
    validate_status: bool = True
    delete_conflict: bool = True
    caller_user: bool = True
    clock: Callable[[], float] = time.monotonic
    # What the rules answered themselves, by code: {"DuplicateCertificate": 2, "Throttling": 5, ...}.
    answered: dict[str, int] = field(default_factory=dict)
    stale_listings: int = 0

    def __post_init__(self) -> None:
        self._settings = {name: getattr(self, name) for name in SETTINGS}
        self._lock = threading.RLock()
        self._uploads = threading.Lock()  # a duplicate check and its upload are one step, as in IAM
        self._stale: dict[tuple[str, str], tuple[float, bytes]] = {}  # (account, user) -> (until, listing)
        self._buckets: dict[str, _Bucket] = {}
        self._fingerprints: dict[str, str | None] = {}  # certificate ID -> fingerprint

    def reset(self) -> None:
        """Forget what the rules remember (lagging listings, throttling), as moto's reset forgets the accounts, and
        go back to the settings the rules were made with."""
        with self._lock:
            for name, value in self._settings.items():
                setattr(self, name, value)
            self._stale.clear()
            self._buckets.clear()
            self._fingerprints.clear()
            self.answered.clear()
            self.stale_listings = 0

    # -- the middleware -----------------------------------------------------------------------------------------
    def __call__(self, request: ProxyRequest, forward: Forward) -> Answer:
        action = request.action
        form = _form(request)
        access_key = _access_key(request)
        refused = self._throttled(access_key)
        if refused is None and action in WRITES + tuple(PAGED):
            if self.caller_user and "UserName" not in form and action != "ListUsers":
                user = self._caller(access_key)
                if user is not None:
                    form["UserName"] = user
                    request = _with_form(request, form)
            refused = self._refusal(action, form, access_key)
        if refused is not None:
            self._answered(refused.code)
            return _answer(refused.response)
        if action == "UploadSigningCertificate" and self.duplicates:
            with self._uploads:
                duplicate = self._duplicate(access_key, form.get("CertificateBody"))
                if duplicate is not None:
                    self._answered("DuplicateCertificate")
                    return _answer(duplicate)
                return self._write(request, form, access_key, forward)
        if action in WRITES:
            return self._write(request, form, access_key, forward)
        if action in PAGED:
            return self._listing(request, form, access_key, forward, PAGED[action])
        if action == "DeleteUser" and self.delete_conflict:
            conflict = self._delete_conflict(access_key, form.get("UserName"))
            if conflict is not None:
                return _answer(conflict)
        return forward(request)

    def _answered(self, code: str) -> None:
        with self._lock:
            self.answered[code] = self.answered.get(code, 0) + 1

    # -- rules ----------------------------------------------------------------------------------------------------
    def _throttled(self, access_key: str) -> _Refusal | None:
        if self.throttle_rate is None:
            return None
        account, _iam = _moto_iam(access_key)
        with self._lock:
            bucket = self._buckets.get(account)
            if bucket is None or (bucket.rate, bucket.burst) != (self.throttle_rate, self.throttle_burst):
                bucket = self._buckets[account] = _Bucket(self.throttle_rate, self.throttle_burst, self.clock)
            if bucket.take():
                return None
        return _Refusal("Throttling", aws_error("Throttling", "Rate exceeded", 400))

    def _caller(self, access_key: str) -> str | None:
        _account, iam = _moto_iam(access_key)
        key = iam.access_keys.get(access_key)
        return getattr(key, "user_name", None) if key is not None else None

    def _refusal(self, action: str, form: dict[str, str], access_key: str) -> _Refusal | None:
        if action == "UpdateSigningCertificate" and self.validate_status and form.get("Status") not in STATUSES:
            message = (
                f"1 validation error detected: Value '{form.get('Status')}' at 'status' failed to satisfy "
                "constraint: Member must satisfy enum value set: [Active, Inactive]"
            )
            return _Refusal("ValidationError", aws_error("ValidationError", message, 400))
        if action in PAGED and "MaxItems" in form:
            try:
                valid = 1 <= int(form["MaxItems"]) <= 1000
            except ValueError:
                valid = False
            if not valid:
                message = (
                    f"1 validation error detected: Value '{form['MaxItems']}' at 'maxItems' failed to satisfy "
                    "constraint: Member must have value between 1 and 1000"
                )
                return _Refusal("ValidationError", aws_error("ValidationError", message, 400))
        return None

    def _delete_conflict(self, access_key: str, user_name: str | None) -> CannedResponse | None:
        _account, iam = _moto_iam(access_key)
        user = iam.users.get(user_name or "")
        if user is None or not user.signing_certificates:
            return None
        self._answered("DeleteConflict")
        return aws_error("DeleteConflict", "Cannot delete entity, must delete signing certificates first.", 409)

    def _duplicate(self, access_key: str, body: str | None) -> CannedResponse | None:
        wanted = _fingerprint(body)
        if wanted is None:
            return None
        _account, iam = _moto_iam(access_key)
        for user in list(iam.users.values()):
            for certificate in list(user.signing_certificates.values()):
                if certificate.id not in self._fingerprints:
                    self._fingerprints[certificate.id] = _fingerprint(certificate.body)
                if self._fingerprints[certificate.id] == wanted:
                    return aws_error(
                        "DuplicateCertificate",
                        "The request was rejected because the same certificate is associated with an IAM user in "
                        "the account.",
                        409,
                    )
        return None

    def _write(self, request: ProxyRequest, form: dict[str, str], access_key: str, forward: Forward) -> Answer:
        """A write to a user's certificates: its listings keep showing the state before it for a while."""
        if self.consistency_delay <= 0 or "UserName" not in form:
            return forward(request)
        account, _iam = _moto_iam(access_key)
        key = (account, form["UserName"])
        with self._lock:
            lagging = self._stale.get(key)
            current = lagging is not None and lagging[0] > self.clock()
        before = lagging[1] if current else None
        if before is None:
            listing = _with_form(request, {"Action": "ListSigningCertificates", "UserName": form["UserName"]})
            status, _headers, body = forward(listing)
            before = body if status == 200 else None
        answer = forward(request)
        if answer[0] == 200 and before is not None:
            with self._lock:
                self._stale[key] = (self.clock() + self.consistency_delay, before)
        return answer

    def _listing(
        self, request: ProxyRequest, form: dict[str, str], access_key: str, forward: Forward, element: str
    ) -> Answer:
        """A listing in IAM's pages: moto's whole list (or, within the consistency window, the one before the
        write), cut at the Marker to at most MaxItems (and short_pages) items."""
        stale = None
        if element == "Certificates" and "UserName" in form:
            account, _iam = _moto_iam(access_key)
            with self._lock:
                lagging = self._stale.get((account, form["UserName"]))
                if lagging is not None and lagging[0] > self.clock():
                    stale = lagging[1]
                    self.stale_listings += 1
        if stale is not None:
            status, headers, body = 200, [("Content-Type", "text/xml")], stale
        else:
            whole = {k: v for k, v in form.items() if k not in ("MaxItems", "Marker")}
            status, headers, body = forward(_with_form(request, whole))
        if status != 200:
            return status, headers, body
        try:
            paged = _page(body, element, form.get("Marker"), int(form.get("MaxItems") or 100), self.short_pages)
        except ValueError as exc:
            return _answer(aws_error("ValidationError", str(exc), 400))
        return status, [(k, v) for k, v in headers if k.lower() != "content-length"], paged


@dataclass(frozen=True)
class _Refusal:
    code: str
    response: CannedResponse


def _page(body: bytes, element: str, marker: str | None, max_items: int, short_pages: int | None) -> bytes:
    """One page of a whole listing (IAM's XML): the items from the marker on, IsTruncated and the next Marker."""
    root = ET.fromstring(body)
    result = next(child for child in root if child.tag.endswith("Result"))
    items = result.find(f"{{{NAMESPACE}}}{element}")
    members = list(items) if items is not None else []
    start = 0
    if marker:
        try:
            start = int(base64.urlsafe_b64decode(marker.encode()).decode().removeprefix("certops:"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"Invalid Marker: {marker!r}") from exc
    size = min(max_items, short_pages or max_items)
    end = start + size
    if items is not None:
        for member in members:
            items.remove(member)
        items.extend(members[start:end])
    for name in ("IsTruncated", "Marker"):
        old = result.find(f"{{{NAMESPACE}}}{name}")
        if old is not None:
            result.remove(old)
    truncated = ET.SubElement(result, f"{{{NAMESPACE}}}IsTruncated")
    truncated.text = "true" if end < len(members) else "false"
    if end < len(members):
        ET.SubElement(result, f"{{{NAMESPACE}}}Marker").text = base64.urlsafe_b64encode(
            f"certops:{end}".encode()
        ).decode()
    return ET.tostring(root, xml_declaration=False)


class IamEmulator:
    """moto's server on 127.0.0.1 and the front with IAM's rules before it (rules=None: plain moto behind the
    front). url: the front; moto_url: moto itself (the truth, never lagging). Started and stopped as a context."""

    def __init__(self, rules: IamRules | None = None, port: int = 0, latency: float = 0.0) -> None:
        self.rules = rules
        self._port = port
        self._latency = latency
        self._stack: contextlib.ExitStack | None = None
        self.proxy: LoopbackProxy | None = None

    def start(self) -> IamEmulator:
        from tools.harness import moto_server, reset_moto

        self._stack = contextlib.ExitStack()
        self.moto_url = self._stack.enter_context(moto_server())
        reset_moto(self.moto_url)  # moto's accounts live in the process: an earlier emulator's users are not this one's
        self.proxy = self._stack.enter_context(
            LoopbackProxy(self.moto_url, latency=self._latency, middleware=self.rules, port=self._port)
        )
        return self

    def stop(self) -> None:
        if self._stack is not None:
            self._stack.close()  # the front first, then moto
            self._stack = None
            self.proxy = None

    def __enter__(self) -> IamEmulator:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self.proxy is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return self.proxy.url

    def summary(self) -> str:
        """The rules in effect, in a line."""
        rules = self.rules
        if rules is None:
            return "plain moto (no IAM rules in front of it)"
        on = ["DuplicateCertificate"] if rules.duplicates else []
        on.append("listings in pages" + (f" of at most {rules.short_pages}" if rules.short_pages else ""))
        on += ["Status validated"] if rules.validate_status else []
        on += ["DeleteConflict"] if rules.delete_conflict else []
        on.append("the quota")
        if rules.consistency_delay > 0:
            on.append(f"listings {rules.consistency_delay:g} s behind writes")
        if rules.throttle_rate is not None:
            on.append(f"throttled above {rules.throttle_rate:g} requests/s")
        return "IAM's rules in front of moto: " + ", ".join(on)

    def reset(self) -> None:
        """Empty every account, and forget what the rules remember."""
        from tools.harness import reset_moto

        reset_moto(self.moto_url)
        if self.rules is not None:
            self.rules.reset()


_ANSWERED = "certops_emulator_answered"


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Any:
        yield self._body


def _unless_answered(handler: Callable[..., Any]) -> Callable[..., Any]:
    """botocore calls every before-send handler: keep moto's from acting on a request the front answered."""

    def guarded(request: Any, **kwargs: Any) -> Any:
        if getattr(request, _ANSWERED, False):
            return None
        return handler(request=request, **kwargs)

    return guarded


class InProcessFront:
    """The emulator without a server, for unit tests under moto's mock_aws: each IAM request of a botocore client goes
    through `fault` (a fault hook, e.g. tools/iam_faults.FaultInjector), then `rules` (None: none), then moto, as
    through the loopback front. Both may be changed while it is installed. A dropped connection or a lost endpoint
    is raised as botocore raises it."""

    def __init__(self, rules: IamRules | None = None, fault: Callable[[ProxyRequest], Any] | None = None) -> None:
        self.rules = rules
        self.fault = fault
        self._numbers = itertools.count(1)

    def __call__(self, request: Any, event_name: str, **_kwargs: Any) -> Any:
        import botocore.exceptions
        from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders
        from moto.core.models import botocore_stubber

        from tools.loopback_proxy import DROP, LOST

        if not event_name.startswith("before-send.iam.") or (self.rules is None and self.fault is None):
            return None
        split = urllib.parse.urlsplit(request.url)
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else body if isinstance(body, bytes) else body.read()
        path = split.path + (f"?{split.query}" if split.query else "")
        headers = {
            name: value.decode("latin-1") if isinstance(value, bytes) else value
            for name, value in request.headers.items()
        }
        received = ProxyRequest(next(self._numbers), request.method, path, headers, body)
        canned = self.fault(received) if self.fault is not None else None
        if canned is DROP:
            raise botocore.exceptions.ConnectionClosedError(endpoint_url=request.url)
        if canned is LOST:
            raise botocore.exceptions.EndpointConnectionError(endpoint_url=request.url)
        if canned is None and self.rules is None:
            return None  # moto's own handler answers

        def forward(sent: ProxyRequest) -> Answer:
            headers = HTTPHeaders()
            for name, value in sent.headers.items():
                headers[name] = value
            url = f"{split.scheme}://{split.netloc}{sent.path}"
            answer = botocore_stubber.process_request(AWSPreparedRequest(sent.method, url, headers, sent.body, False))
            if answer is None:
                raise RuntimeError(f"moto does not answer {url} (is mock_aws active?)")
            status, reply_headers, reply = answer
            reply = reply.encode() if isinstance(reply, str) else reply
            return status, list(reply_headers.items()), reply

        if canned is not None:
            status, reply_headers, reply = canned.status, list(canned.headers.items()), canned.body
        else:
            status, reply_headers, reply = self.rules(received, forward)
        setattr(request, _ANSWERED, True)  # this attempt only: botocore shares request.context across retries
        return AWSResponse(request.url, status, HTTPHeaders.from_pairs(reply_headers), _Raw(reply))

    def install(self) -> Any:
        """Context manager: every botocore client created inside it sends through this front first (clients take
        their handlers from a botocore session when it is created)."""
        from unittest import mock

        import botocore.handlers

        handlers = [
            (entry[0], _unless_answered(entry[1]), *entry[2:]) if entry[0].startswith("before-send") else entry
            for entry in botocore.handlers.BUILTIN_HANDLERS
        ]
        return mock.patch.object(botocore.handlers, "BUILTIN_HANDLERS", [("before-send", self), *handlers])
