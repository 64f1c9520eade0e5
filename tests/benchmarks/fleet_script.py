"""The baseline of the fleet section: a concurrent boto3 script that rotates users the way the role does.

    python -m tests.benchmarks.fleet_script ENDPOINT ROTATIONS.json [MAX_CONCURRENCY]

ROTATIONS.json is the playbook's own variables file (`rotations: [{user, certificate_file}]`, paths relative to
the working directory). For each user, at most MAX_CONCURRENCY (default 8) users at a time, it makes the calls the
module makes for a user that is due: ListSigningCertificates, UploadSigningCertificate, ListSigningCertificates
(is the new certificate listed as Active?), then UpdateSigningCertificate to Inactive for each certificate that
was active before. What it leaves out is the module's judgement: it does not parse certificates, check expiry or
validity, make room, or handle a failure beyond stopping. It prints one JSON line: the seconds its calls took
(client made first) and how many users it rotated.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tools.harness import guard_loopback


def main() -> None:
    guard_loopback("the fleet baseline script")
    endpoint, rotations_file = sys.argv[1], Path(sys.argv[2])
    concurrency = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    rotations = [
        (entry["user"], Path(entry["certificate_file"]).read_text())
        for entry in json.loads(rotations_file.read_text())["rotations"]
    ]

    import boto3
    import botocore.config

    client = boto3.session.Session().client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=botocore.config.Config(max_pool_connections=concurrency, retries={"mode": "standard"}),
    )

    def rotate(user_name: str, body: str) -> None:
        before = client.list_signing_certificates(UserName=user_name)["Certificates"]
        active = [certificate["CertificateId"] for certificate in before if certificate["Status"] == "Active"]
        new_id = client.upload_signing_certificate(UserName=user_name, CertificateBody=body)["Certificate"][
            "CertificateId"
        ]
        listed = client.list_signing_certificates(UserName=user_name)["Certificates"]
        if not any(c["CertificateId"] == new_id and c["Status"] == "Active" for c in listed):
            raise RuntimeError(f"{user_name}: the new certificate {new_id} is not listed as active")
        for certificate_id in active:
            client.update_signing_certificate(UserName=user_name, CertificateId=certificate_id, Status="Inactive")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(lambda rotation: rotate(*rotation), rotations))
    print(json.dumps({"seconds": time.perf_counter() - started, "users": len(rotations)}))


if __name__ == "__main__":
    main()
