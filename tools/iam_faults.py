"""Faults planned by a test, in front of the IAM emulator: errors, dropped connections, a lost endpoint.

A FaultInjector is a fault hook of the emulator's front (tools/loopback_proxy.py: `proxy.fault = injector`), and of
its in-process front for unit tests (tools/iam_emulator.py: `in_process(fault=injector)`): either way it sees each
request before IAM's rules and moto, and answers it itself when a planned fault says so.

    inject.fail("UploadSigningCertificate", "ServiceFailure", 500, times=4)   # every attempt of the next upload
    inject.drop("ListSigningCertificates", times=4, user="u2")                 # u2's next listing, connection closed
    inject.at_send(7, "AccessDenied", 403)                                  # the 7th request from now, and its retries
    inject.lose_endpoint(after=10)                                             # no connection at all after 10 more
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable

from tools.loopback_proxy import DROP, LOST, CannedResponse, ProxyRequest, aws_error

# The code of a planned fault that closes the connection instead of answering.
DROPPED = "dropped connection"


class FaultInjector:
    """Answers the next requests of chosen IAM actions with an error instead of letting them through.

    A planned fault may be for one user's requests only (user=...); `before` runs a change made by "someone else"
    just before the request goes on (or is answered). Requests it does not answer go on to the rules and moto.
    """

    def __init__(self) -> None:
        self._planned: dict[tuple[str, str | None], collections.deque] = collections.defaultdict(collections.deque)
        self.injected: list[str] = []
        self.sent = 0
        self._endpoint_lost_after: int | None = None
        self._at_send: tuple[int, str, int] | None = None
        self._repeating: tuple[tuple[str | None, bytes], str, int, int] | None = None
        self._lock = threading.Lock()  # the rotation module sends from several threads

    def fail(
        self,
        action: str,
        code: str,
        status: int = 400,
        times: int = 1,
        message: str | None = None,
        before: Callable[[], object] | None = None,
        user: str | None = None,
    ) -> None:
        """Answer the next `times` requests of action (of that user's, if given) with an IAM error; run `before()`
        first, if given. code DROPPED: the connection is closed before an answer, as by a network fault."""
        for _attempt in range(times):
            self._planned[action, user].append((status, code, message or f"injected {code}", before))

    def drop(self, action: str, times: int = 1, user: str | None = None) -> None:
        """Close the connection of the next `times` requests of action before any answer."""
        self.fail(action, DROPPED, times=times, user=user)

    def then(self, action: str, change: Callable[[], object]) -> None:
        """Run `change()` (a change made by "someone else") just before the next request of action goes on."""
        self._planned[action, None].append((None, None, None, change))

    def at_send(self, number: int, code: str, status: int = 400) -> None:
        """Fail the `number`-th request sent from now on (code DROPPED: its connection dropped), and the retries of
        that same request after it (up to 3): a fault that outlasts botocore's retries when botocore retries."""
        self._at_send = (self.sent + number, code, status)

    def lose_endpoint(self, after: int) -> None:
        """After `after` more requests, no connection to the endpoint can be made any more."""
        self._endpoint_lost_after = self.sent + after

    def __call__(self, request: ProxyRequest) -> CannedResponse | None:
        action = request.action
        with self._lock:
            self.sent += 1
            if self._endpoint_lost_after is not None and self.sent > self._endpoint_lost_after:
                self.injected.append(f"{action}:unreachable")
                return LOST
            same = (action, request.body)
            if self._at_send is not None and self.sent == self._at_send[0]:
                code, status = self._at_send[1:]
                self._repeating = (same, code, status, 3)
                return self._answer(action, status, code, f"injected {code}")
            if self._repeating is not None and self._repeating[0] == same and self._repeating[3] > 0:
                _same, code, status, left = self._repeating
                self._repeating = (same, code, status, left - 1)
                return self._answer(action, status, code, f"injected {code}")
            queue = self._planned.get((action, request.param("UserName"))) or self._planned.get((action, None))
            if not queue:
                return None
            status, code, message, before = queue.popleft()
        if before is not None:
            before()
        if status is None:
            return None
        return self._answer(action, status, code, message)

    def _answer(self, action: str | None, status: int, code: str, message: str) -> CannedResponse:
        if code == DROPPED:
            self.injected.append(f"{action}:dropped")
            return DROP
        self.injected.append(f"{action}:{code}")
        return aws_error(code, message, status)

    def pending(self) -> dict[str, int]:
        return {op if user is None else f"{op}({user})": len(q) for (op, user), q in self._planned.items() if q}
