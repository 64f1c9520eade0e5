"""Fault injection at botocore's HTTP layer, so that retry modes and error parsing run as for a real answer."""

from __future__ import annotations

import collections
import copy
import threading
import urllib.parse
from collections.abc import Callable
from unittest import mock

import botocore.exceptions
import botocore.handlers
from botocore.awsrequest import AWSResponse

_ANSWERED = "certops_fault_injected"
WRITES = ("UploadSigningCertificate", "UpdateSigningCertificate", "DeleteSigningCertificate")
ERROR_XML = (
    '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
    "<Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
    "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs):
        yield self._body


DROP = "dropped connection"


def _user_of(request) -> str | None:
    body = request.body or b""
    values = urllib.parse.parse_qs(body.decode() if isinstance(body, bytes) else body).get("UserName")
    return values[0] if values else None


class FaultInjector:
    """Answers the next calls of chosen IAM operations with an error instead of sending them.

    Installed as a botocore built-in handler, so it applies to every client created meanwhile,
    including those a module builds itself. Calls it does not answer go on to moto or the network.
    A planned fault may be for one user's calls only (user=...); the endpoint can be lost for good (lose_endpoint).
    """

    def __init__(self) -> None:
        self._planned: dict[tuple[str, str | None], collections.deque] = collections.defaultdict(collections.deque)
        self.injected: list[str] = []
        self.sent = 0
        self._endpoint_lost_after: int | None = None
        self._at_send: tuple[int, str, int] | None = None
        self._repeating: tuple[tuple[str, object], str, int, int] | None = None
        self._lock = threading.Lock()  # the rotation module sends from several threads

    def fail(
        self,
        operation: str,
        code: str,
        status: int = 400,
        times: int = 1,
        message: str | None = None,
        before: Callable[[], object] | None = None,
        user: str | None = None,
    ) -> None:
        """Answer the next `times` calls of operation (of that user's, if given) with an IAM error; run `before()`
        first, if given. code DROP: the connection is closed before an answer, as by a network fault."""
        for _attempt in range(times):
            self._planned[operation, user].append((status, code, message or f"injected {code}", before))

    def drop(self, operation: str, times: int = 1, user: str | None = None) -> None:
        """Close the connection of the next `times` calls of operation before any answer."""
        self.fail(operation, DROP, times=times, user=user)

    def then(self, operation: str, action: Callable[[], object]) -> None:
        """Run `action()` (a change made by "someone else") just before the next call of operation is sent."""
        self._planned[operation, None].append((None, None, None, action))

    def at_send(self, number: int, code: str, status: int = 400) -> None:
        """Fail the `number`-th request sent from now on (code DROP: its connection dropped), and botocore's retries
        of that same request after it (up to 3): a fault that outlasts the retries when botocore retries."""
        self._at_send = (self.sent + number, code, status)

    def lose_endpoint(self, after: int) -> None:
        """After `after` more requests, no connection to the endpoint can be made any more."""
        self._endpoint_lost_after = self.sent + after

    def __call__(self, request, event_name: str, **_kwargs):
        operation = event_name.rsplit(".", 1)[-1]
        with self._lock:
            self.sent += 1
            if self._endpoint_lost_after is not None and self.sent > self._endpoint_lost_after:
                self.injected.append(f"{operation}:unreachable")
                raise botocore.exceptions.EndpointConnectionError(endpoint_url=request.url)
            same = (operation, request.body)
            if self._at_send is not None and self.sent == self._at_send[0]:
                code, status = self._at_send[1:]
                self._repeating = (same, code, status, 3)
                return self._answer(request, operation, status, code, f"injected {code}")
            if self._repeating is not None and self._repeating[0] == same and self._repeating[3] > 0:
                _same, code, status, left = self._repeating
                self._repeating = (same, code, status, left - 1)
                return self._answer(request, operation, status, code, f"injected {code}")
            queue = self._planned.get((operation, _user_of(request))) or self._planned.get((operation, None))
            if not queue:
                return None
            status, code, message, before = queue.popleft()
        if before is not None:
            before()
        if status is None:
            return None
        return self._answer(request, operation, status, code, message)

    def _answer(self, request, operation: str, status: int, code: str, message: str):
        if code == DROP:
            self.injected.append(f"{operation}:dropped")
            raise botocore.exceptions.ConnectionClosedError(endpoint_url=request.url)
        self.injected.append(f"{operation}:{code}")
        # Marks this attempt only: botocore shares request.context across retries.
        setattr(request, _ANSWERED, True)
        body = ERROR_XML.format(code=code, message=message).encode()
        return AWSResponse(request.url, status, {"Content-Type": "text/xml"}, _Raw(body))

    def pending(self) -> dict[str, int]:
        return {op if user is None else f"{op}({user})": len(q) for (op, user), q in self._planned.items() if q}


def _unless_answered(handler):
    """botocore calls every before-send handler: keep moto's from acting on a request we answered."""

    def guarded(request, **kwargs):
        if getattr(request, _ANSWERED, False):
            return None
        return handler(request=request, **kwargs)

    return guarded


def install(injector: FaultInjector):
    """Context manager: every botocore client created inside it sees the injector first.

    Clients take their handlers from a botocore session when it is created: use a new session.
    """
    handlers = [
        (entry[0], _unless_answered(entry[1]), *entry[2:]) if entry[0].startswith("before-send") else entry
        for entry in botocore.handlers.BUILTIN_HANDLERS
    ]
    return mock.patch.object(botocore.handlers, "BUILTIN_HANDLERS", [("before-send", injector), *handlers])


class LaggingListings:
    """IAM's eventual consistency, which moto does not have: after a write, the next `behind` answers of
    ListSigningCertificates still show what the last listing before the write showed (the new certificate
    missing, the old status, the deleted certificate still there). behind 0: no lag.

    Installed with install_lag, for every botocore client created meanwhile.
    """

    def __init__(self, behind: int = 0) -> None:
        self.behind = behind
        self.stale_answers = 0
        self._last_seen: list | None = None
        self._stale_left = 0

    def stale_for(self, answers: int) -> None:
        """The next `answers` listings show what the last one showed: a write by someone else, not yet listed."""
        self._stale_left = answers

    def __call__(self, http_response, parsed, model, **_kwargs) -> None:
        if http_response.status_code >= 300:
            return
        if model.name in WRITES:
            self._stale_left = self.behind
        elif model.name == "ListSigningCertificates":
            if self._stale_left and self._last_seen is not None:
                self._stale_left -= 1
                self.stale_answers += 1
                parsed["Certificates"] = copy.deepcopy(self._last_seen)
            else:
                self._last_seen = copy.deepcopy(parsed["Certificates"])


def install_lag(lag: LaggingListings):
    """Context manager: every botocore client created inside it has its IAM answers go through `lag` first."""
    return mock.patch.object(
        botocore.handlers, "BUILTIN_HANDLERS", [("after-call.iam", lag), *botocore.handlers.BUILTIN_HANDLERS]
    )
