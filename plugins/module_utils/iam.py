# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IAM signing-certificate operations: the only code that calls the IAM API.

Every botocore failure becomes an IamError whose message says what was being
done, to whom, and what IAM (or the network) answered, so modules can fail
with one clear message and never a traceback.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ansible_collections.certops.aws.plugins.module_utils.certificate import utc_now
from ansible_collections.certops.aws.plugins.module_utils.connection import UNREACHABLE
from ansible_collections.certops.aws.plugins.module_utils.rules import record, who

try:
    import botocore.exceptions
except ImportError:  # handled by the module: HAS_BOTO3 in connection.py
    pass

# IAM's own constraints (API reference): checked before any call.
# IAM's patterns use \w in its ASCII sense: letters and digits of other scripts are refused.
USER_NAME_PATTERN = re.compile(r"[\w+=,.@-]{1,128}", re.ASCII)
CERTIFICATE_ID_PATTERN = re.compile(r"\w{24,128}", re.ASCII)
USERS_PAGE_SIZE = 1000
CONCURRENT_MODIFICATION_ATTEMPTS = 3
CONCURRENT_MODIFICATION_PAUSE = 1.0  # seconds, times the attempt number

# Error codes that mean the credentials themselves were refused.
_CREDENTIAL_CODES = {
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "AuthFailure",
    "ExpiredToken",
    "ExpiredTokenException",
    "UnrecognizedClientException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
}
_ACCESS_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}


class IamError(Exception):
    """A failed IAM call, with a message fit for fail_json and the IAM error code (if any).

    resent: the request was sent more than once (botocore retried it after a 5xx, a throttle or a lost
    connection), so an earlier attempt may have taken effect even though the last answer is an error.
    cannot_connect: no connection to the endpoint could be made at all (refused, or timed out connecting), as
    opposed to one request that failed on its way (a dropped connection, a read timeout).
    """

    def __init__(
        self,
        message: str,
        code: str | None = None,
        resent: bool = False,
        cannot_connect: bool = False,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.resent = resent
        self.cannot_connect = cannot_connect
        self.endpoint = endpoint


def invalid_user_name(value: str) -> str | None:
    """Why value is not a valid IAM user name, or None when it is."""
    if USER_NAME_PATTERN.fullmatch(value):
        return None
    return (
        f"user_name {value!r} is not a valid IAM user name: 1 to 128 characters, ASCII letters, digits and _+=,.@- only"
    )


def invalid_certificate_id(value: str) -> str | None:
    """Why value is not a valid signing certificate ID, or None when it is."""
    if CERTIFICATE_ID_PATTERN.fullmatch(value):
        return None
    return (
        f"certificate_id {value!r} is not a valid signing certificate ID: 24 to 128 characters, "
        "ASCII letters, digits and _ only"
    )


def _explain(exc: Exception, action: str, endpoint: str) -> IamError:
    """One clear message for a botocore exception raised while doing `action`."""
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "Unknown")
        server_says = error.get("Message") or str(exc)
        if code in _ACCESS_DENIED_CODES:
            detail = f"access denied; the credentials need the permission iam:{exc.operation_name}"
        elif code in _CREDENTIAL_CODES:
            detail = "the AWS credentials were refused; check access_key/secret_key/session_token or profile"
        elif code == "NoSuchEntity":
            detail = "it does not exist"
        elif code in ("MalformedCertificate", "InvalidCertificate"):
            detail = "IAM refused the certificate body as malformed, invalid or expired"
        elif code == "DuplicateCertificate":
            detail = (
                "the same certificate is already uploaded to an IAM user of this account, "
                "and IAM allows a certificate on only one user"
            )
        elif code == "ConcurrentModification":
            detail = "another request changed the same IAM entity at the same time; run the task again"
        elif code == "EntityAlreadyExists":
            detail = "it already exists"
        elif code in ("Throttling", "ThrottlingException", "RequestLimitExceeded"):
            detail = "IAM throttled the requests and the retries ran out; lower the concurrency or retry later"
        else:
            detail = "IAM refused the request"
        return IamError(f"Could not {action}: {detail} ({code}: {server_says})", code)
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return IamError(
            f"Could not {action}: no AWS credentials were found. Set access_key and secret_key, "
            "or profile, or the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            "NoCredentials",
        )
    if isinstance(
        exc,
        (
            botocore.exceptions.EndpointConnectionError,
            botocore.exceptions.ConnectTimeoutError,
            botocore.exceptions.ReadTimeoutError,
            botocore.exceptions.SSLError,
            botocore.exceptions.ConnectionClosedError,
        ),
    ):
        return IamError(
            f"Could not {action}: the IAM endpoint {endpoint} could not be reached ({exc})",
            UNREACHABLE,
            cannot_connect=isinstance(
                exc, (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError)
            ),
            endpoint=endpoint,
        )
    return IamError(f"Could not {action}: {exc}", exc.__class__.__name__)


def _retried(exc: Exception) -> bool:
    """Whether botocore sent the failed request more than once (its answer reports the retries it made).

    A connection or timeout error carries no answer: the request may have been sent several times.
    """
    response = getattr(exc, "response", None)
    if response is None:
        return isinstance(exc, botocore.exceptions.ConnectionError)
    return bool(response.get("ResponseMetadata", {}).get("RetryAttempts"))


class SigningCertificates:
    """The IAM operations the modules use, with errors turned into IamError."""

    def __init__(self, client: Any) -> None:
        self._client = client
        # Requests IAM answered (an error answer included): proof that the endpoint is there; and requests out.
        self.answered = 0
        self.in_flight = 0
        self._count = threading.Lock()

    def _counted(self, call: Callable[[], Any]) -> Any:
        with self._count:
            self.in_flight += 1
        try:
            answer = call()
        except botocore.exceptions.ClientError:
            with self._count:
                self.answered += 1
            raise
        finally:
            with self._count:
                self.in_flight -= 1
        with self._count:
            self.answered += 1
        return answer

    def _call(self, action: str, call: Callable[[], Any]) -> Any:
        resent = False
        for attempt in range(1, CONCURRENT_MODIFICATION_ATTEMPTS + 1):
            try:
                return self._counted(call)
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                error = _explain(exc, action, self._client.meta.endpoint_url)
                resent = resent or _retried(exc)
            # botocore's retry modes do not retry ConcurrentModification (a 409): the request had no
            # effect, so sending it again after a pause is safe.
            if error.code != "ConcurrentModification" or attempt == CONCURRENT_MODIFICATION_ATTEMPTS:
                error.resent = resent
                raise error
            time.sleep(CONCURRENT_MODIFICATION_PAUSE * attempt)

    @staticmethod
    def _user_args(user_name: str | None) -> dict[str, str]:
        # Omitted UserName: IAM acts on the user whose credentials sign the request.
        return {"UserName": user_name} if user_name else {}

    def list(self, user_name: str | None) -> list[dict[str, Any]]:
        """All signing certificates of a user (raw IAM dicts), through every page."""
        paginator = self._client.get_paginator("list_signing_certificates")

        def read_all() -> list[dict[str, Any]]:
            pages = paginator.paginate(**self._user_args(user_name))
            return [cert for page in pages for cert in page.get("Certificates", [])]

        return self._call(f"list the signing certificates of {who(user_name)}", read_all)

    def upload(self, user_name: str | None, body: str) -> dict[str, Any]:
        response = self._call(
            f"upload a signing certificate to {who(user_name)}",
            lambda: self._client.upload_signing_certificate(CertificateBody=body, **self._user_args(user_name)),
        )
        return response["Certificate"]

    def set_status(self, user_name: str | None, certificate_id: str, status: str) -> None:
        self._call(
            f"set signing certificate {certificate_id} of {who(user_name)} to {status}",
            lambda: self._client.update_signing_certificate(
                CertificateId=certificate_id, Status=status, **self._user_args(user_name)
            ),
        )

    def delete(self, user_name: str | None, certificate_id: str) -> None:
        self._call(
            f"delete signing certificate {certificate_id} of {who(user_name)}",
            lambda: self._client.delete_signing_certificate(CertificateId=certificate_id, **self._user_args(user_name)),
        )

    def list_user_names(self) -> list[str]:
        """The names of every IAM user of the account, through every page."""
        paginator = self._client.get_paginator("list_users")
        return self._call(
            "list the IAM users of the account",
            # IAM's largest page: one round trip per 1000 users instead of per 100.
            lambda: [
                user["UserName"]
                for page in paginator.paginate(PaginationConfig={"PageSize": USERS_PAGE_SIZE})
                for user in page.get("Users", [])
            ],
        )

    def owners(self, max_concurrency: int) -> dict[str, str]:
        """Fingerprint -> user name, for every signing certificate of the account (IAM allows a certificate on
        one user only, and has no call that finds a certificate's owner: every user's certificates are listed)."""
        listed = self.list_for_users(self.list_user_names(), max_concurrency)
        now = utc_now()
        return {
            rec["fingerprint_sha256"]: rec["user_name"]
            for rec in (record(raw, now) for raw in listed)
            if rec["fingerprint_sha256"]
        }

    def list_for_users(self, user_names: list[str], max_concurrency: int) -> list[dict[str, Any]]:
        """The certificates of many users, at most max_concurrency requests in flight.

        A user deleted after the user listing has no certificates, not an error.
        """

        def certificates_of(user_name: str) -> list[dict[str, Any]]:
            try:
                return self.list(user_name)
            except IamError as error:
                if error.code == "NoSuchEntity":
                    return []
                raise

        with ThreadPoolExecutor(max_workers=max(1, min(max_concurrency, len(user_names) or 1))) as pool:
            return [cert for certs in pool.map(certificates_of, user_names) for cert in certs]
