"""Section a: IAM API calls per task, counted on botocore.client.BaseClient._make_api_call.

The modules' main() runs in this process against moto's in-process IAM (mock_aws). moto answers every listing
in one page, so the "pages of 1" cases put a pager in front of it that splits ListSigningCertificates answers
the way IAM does with MaxItems=1 (IsTruncated and Marker), to show one list call per page.

Run by tests.benchmarks.run in a subprocess (moto's mocks patch botocore process-wide):
    python -m tests.benchmarks.api_calls --collection PATH   -> JSON rows on stdout
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from unittest import mock
from xml.sax.saxutils import escape

WRITES = {"UploadSigningCertificate", "UpdateSigningCertificate", "DeleteSigningCertificate"}
LISTS = {"ListSigningCertificates", "ListUsers"}


@dataclass
class Row:
    module: str
    case: str
    pages: int  # pages per certificate listing
    check_mode: bool
    calls: list[str]
    expected_lists: int
    expected_writes: int
    changed: bool | None
    failed: bool
    note: str = ""

    @property
    def lists(self) -> int:
        return sum(1 for call in self.calls if call in LISTS)

    @property
    def writes(self) -> int:
        return sum(1 for call in self.calls if call in WRITES)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lists": self.lists, "writes": self.writes}


class _Pager:
    """Answers ListSigningCertificates from moto's full listing, `page_size` certificates per page."""

    def __init__(self, observer: Any, page_size: int) -> None:
        self._observer = observer
        self._page_size = page_size
        self._inside = threading.local()

    def __call__(self, request: Any, **_kwargs: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        if getattr(self._inside, "active", False):  # the observer's own call below: let moto answer it
            return None
        form = urllib.parse.parse_qs(request.body.decode() if isinstance(request.body, bytes) else request.body)
        user_name = form.get("UserName", [None])[0]
        start = int(form.get("Marker", ["0"])[0])
        self._inside.active = True
        try:
            listed = self._observer.list_signing_certificates(UserName=user_name)["Certificates"]
        finally:
            self._inside.active = False
        page = listed[start : start + self._page_size]
        truncated = start + self._page_size < len(listed)
        members = "".join(
            "<member>"
            f"<UserName>{escape(cert['UserName'])}</UserName><CertificateId>{cert['CertificateId']}</CertificateId>"
            f"<CertificateBody>{escape(cert['CertificateBody'])}</CertificateBody><Status>{cert['Status']}</Status>"
            f"<UploadDate>{cert['UploadDate'].strftime('%Y-%m-%dT%H:%M:%SZ')}</UploadDate>"
            "</member>"
            for cert in page
        )
        marker = f"<Marker>{start + self._page_size}</Marker>" if truncated else ""
        body = (
            '<ListSigningCertificatesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
            f"<ListSigningCertificatesResult><Certificates>{members}</Certificates>"
            f"<IsTruncated>{str(truncated).lower()}</IsTruncated>{marker}</ListSigningCertificatesResult>"
            "<ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>"
            "</ListSigningCertificatesResponse>"
        ).encode()
        return AWSResponse(request.url, 200, {"Content-Type": "text/xml"}, _Raw(body))


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self._body


@contextlib.contextmanager
def _paged(observer: Any, page_size: int | None) -> Iterator[None]:
    """Clients created inside see the pager first (botocore copies BUILTIN_HANDLERS into each new session)."""
    if page_size is None:
        yield
        return
    import botocore.handlers

    pager = _Pager(observer, page_size)
    handlers = [("before-send.iam.ListSigningCertificates", pager), *botocore.handlers.BUILTIN_HANDLERS]
    with mock.patch.object(botocore.handlers, "BUILTIN_HANDLERS", handlers):
        yield


@contextlib.contextmanager
def _counting(log: list[str]) -> Iterator[None]:
    import botocore.client

    original = botocore.client.BaseClient._make_api_call

    def record(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if not getattr(client, "certops_observer", False):
            log.append(operation_name)
        return original(client, operation_name, api_params)

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", record):
        yield


def _run_module(module: Any, args: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    from ansible.module_utils.testing import patch_module_args

    out = io.StringIO()
    with patch_module_args({**args, "_ansible_check_mode": check_mode}), contextlib.redirect_stdout(out):
        try:
            module.main()
        except SystemExit:
            pass
    return json.loads(out.getvalue())


def measure(collection_root: Path) -> list[dict[str, Any]]:
    import boto3
    from moto import mock_aws

    sys.path.insert(0, str(collection_root))
    from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate as cert_module
    from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate_info as info_module
    from tools.certs import make_certificate

    rows: list[Row] = []
    serial = iter(range(1, 10_000))

    def case(
        module_name: str,
        name: str,
        setup: Callable[[Any], dict[str, Any]],
        expected: tuple[int, int],
        *,
        pages: int = 1,
        check_mode: bool = False,
        note: str = "",
    ) -> None:
        """Fresh account with user alice; setup(iam) uploads what the case needs and returns the module args."""
        with mock_aws():
            iam = boto3.client("iam", region_name="us-east-1")
            iam.certops_observer = True  # its calls set the scene and are not counted
            iam.create_user(UserName="alice")
            args = setup(iam)
            log: list[str] = []
            module = cert_module if module_name == "iam_signing_certificate" else info_module
            with _paged(iam, 1 if pages > 1 else None), _counting(log):
                result = _run_module(module, args, check_mode)
        rows.append(
            Row(
                module_name,
                name,
                pages,
                check_mode,
                log,
                expected[0],
                expected[1],
                result.get("changed"),
                bool(result.get("failed")),
                str(result.get("msg")) if result.get("failed") else note,
            )
        )

    def body() -> str:
        return make_certificate(f"bench-{next(serial)}")

    def uploaded(iam: Any, status: str = "Active", user: str = "alice") -> tuple[str, str]:
        pem = body()
        certificate_id = iam.upload_signing_certificate(UserName=user, CertificateBody=pem)["Certificate"][
            "CertificateId"
        ]
        if status != "Active":
            iam.update_signing_certificate(UserName=user, CertificateId=certificate_id, Status=status)
        return pem, certificate_id

    cert = "iam_signing_certificate"

    def with_cert(state: str, status: str = "Active", by_id: bool = False) -> Callable[[Any], dict[str, Any]]:
        def setup(iam: Any) -> dict[str, Any]:
            pem, certificate_id = uploaded(iam, status)
            target = {"certificate_id": certificate_id} if by_id else {"certificate_body": pem}
            return {"user_name": "alice", "state": state, **target}

        return setup

    def new_cert(state: str) -> Callable[[Any], dict[str, Any]]:
        return lambda _iam: {"user_name": "alice", "state": state, "certificate_body": body()}

    def second_of_two(state: str, status: str = "Active") -> Callable[[Any], dict[str, Any]]:
        """Two certificates; the task is about the second, so every page must be read to find it."""

        def setup(iam: Any) -> dict[str, Any]:
            uploaded(iam)
            pem, _certificate_id = uploaded(iam, status)
            return {"user_name": "alice", "state": state, "certificate_body": pem}

        return setup

    # No change: one list call per page, no write.
    case(cert, "present, already there", with_cert("present"), (1, 0))
    case(cert, "active, already active", with_cert("active"), (1, 0))
    case(cert, "inactive, already inactive", with_cert("inactive", "Inactive"), (1, 0))
    case(cert, "absent, not there", new_cert("absent"), (1, 0))
    case(cert, "active by certificate_id, already active", with_cert("active", by_id=True), (1, 0))
    # A change: that plus exactly one write.
    case(cert, "present, new certificate (upload)", new_cert("present"), (1, 1))
    case(cert, "active, was inactive (update)", with_cert("active", "Inactive"), (1, 1))
    case(cert, "inactive, was active (update)", with_cert("inactive"), (1, 1))
    case(cert, "absent, was there (delete)", with_cert("absent"), (1, 1))
    case(
        cert,
        "inactive, new certificate (upload + update)",
        new_cert("inactive"),
        (1, 2),
        note="IAM uploads every certificate as Active: no single call uploads one inactive",
    )
    # Check mode: the same decision, no write (an upload also looks for another holder of the certificate).
    case(
        cert,
        "present, new certificate",
        new_cert("present"),
        (3, 0),
        check_mode=True,
        note="then the account (1 ListUsers page + 1 listing per user): the real upload fails with "
        "DuplicateCertificate when another user holds the certificate, and check mode says so too",
    )
    case(cert, "active, was inactive", with_cert("active", "Inactive"), (1, 0), check_mode=True)
    case(cert, "inactive, was active", with_cert("inactive"), (1, 0), check_mode=True)
    case(cert, "absent, was there", with_cert("absent"), (1, 0), check_mode=True)
    # Several pages (IAM answering one certificate per page): one list call per page.
    case(cert, "present, already there (2nd of 2)", second_of_two("present"), (2, 0), pages=2)
    case(cert, "inactive, was active (2nd of 2)", second_of_two("inactive"), (2, 1), pages=2)
    case(cert, "absent, was there (2nd of 2)", second_of_two("absent"), (2, 1), pages=2)

    info = "iam_signing_certificate_info"

    def two_certs(iam: Any) -> dict[str, Any]:
        uploaded(iam)
        uploaded(iam, "Inactive")
        return {"user_name": "alice"}

    def three_users(iam: Any) -> dict[str, Any]:
        for user in ("bob", "carol"):
            iam.create_user(UserName=user)
            uploaded(iam, user=user)
        uploaded(iam)
        return {"all_users": True}

    case(info, "one user, 2 certificates", two_certs, (1, 0))
    case(info, "one user, 2 certificates", two_certs, (2, 0), pages=2)
    case(info, "one user, 2 certificates", two_certs, (1, 0), check_mode=True)
    case(
        info,
        "all_users, 3 users",
        three_users,
        (4, 0),
        note="1 ListUsers page + 1 listing per user",
    )
    return [row.as_dict() for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--collection", type=Path, required=True, help="a collections tree (ANSIBLE_COLLECTIONS_PATH)")
    options = parser.parse_args()
    json.dump(measure(options.collection), sys.stdout)


if __name__ == "__main__":
    main()
