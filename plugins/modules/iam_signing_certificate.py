#!/usr/bin/python
# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: iam_signing_certificate
short_description: Manage one X.509 signing certificate of an AWS IAM user
version_added: 0.1.0
description:
  - Uploads, activates, deactivates or deletes one X.509 signing certificate of an IAM user.
  - A certificate is identified by its body or by its IAM certificate ID. Bodies are compared by the
    SHA-256 fingerprint of their DER encoding, so line endings, wrapping and blank lines never cause a
    second upload.
  - A task that changes nothing makes one read (one C(ListSigningCertificates) call per page) and no write;
    a task that changes something makes that read and one write (two for a new upload with O(state=inactive)).
  - IAM allows at most two signing certificates per user, inactive ones included. An upload that would pass
    that quota fails before any write, naming the certificates the user already has.
author:
  - certops.aws contributors (@certops)
options:
  user_name:
    description:
      - The IAM user that owns the certificate.
      - When omitted, IAM acts on the user whose credentials sign the request.
      - 1 to 128 characters, letters, digits and C(_+=,.@-).
    type: str
    aliases: [username]
  certificate_body:
    description:
      - The certificate in PEM form, exactly one C(-----BEGIN CERTIFICATE-----) block, for example
        from C(lookup('ansible.builtin.file', 'cert.pem')).
      - At most 16384 characters. A private key, a chain of several certificates, bare base64 or DER
        is refused before any call, and a private key is never shown in output.
      - An expired certificate, or one not yet valid, cannot be uploaded, but may be given to find a certificate
        already uploaded, for example to delete or deactivate it.
      - At least one of O(certificate_body) and O(certificate_id) is required.
    type: str
    aliases: [certificate]
  certificate_id:
    description:
      - The IAM ID of the certificate, 24 to 128 letters, digits or C(_).
      - With O(certificate_body) as well, both must name the same certificate.
      - Alone, it can change the status of or delete an existing certificate, but cannot upload one
        (IAM chooses the ID of an upload).
    type: str
    aliases: [id]
  state:
    description:
      - V(present) uploads the certificate if the user does not have it (new uploads are C(Active)),
        and leaves the status of an existing one as it is.
      - V(active) and V(inactive) do the same, then set the status when it differs.
      - V(absent) deletes the certificate if the user has it. A certificate or user that does not exist
        is already absent.
    type: str
    choices: [present, absent, active, inactive]
    default: present
extends_documentation_fragment:
  - certops.aws.aws
attributes:
  check_mode:
    support: full
    description: Makes the same read and decision, returns the predicted result, and writes nothing.
  diff_mode:
    support: full
    description: Shows the user's certificates (ID, status, fingerprint, expiry) before and after.
seealso:
  - module: certops.aws.iam_signing_certificate_info
  - name: UploadSigningCertificate
    description: The IAM API reference of the upload call.
    link: https://docs.aws.amazon.com/IAM/latest/APIReference/API_UploadSigningCertificate.html
"""

EXAMPLES = r"""
- name: Upload a signing certificate for bob (no change when it is already there)
  certops.aws.iam_signing_certificate:
    user_name: bob
    certificate_body: "{{ lookup('ansible.builtin.file', 'files/bob.pem') }}"
  register: bob_cert

- name: Deactivate it, found by its body
  certops.aws.iam_signing_certificate:
    user_name: bob
    certificate_body: "{{ lookup('ansible.builtin.file', 'files/bob.pem') }}"
    state: inactive

- name: Activate it again, found by its ID
  certops.aws.iam_signing_certificate:
    user_name: bob
    certificate_id: "{{ bob_cert.certificate.certificate_id }}"
    state: active

- name: Delete it
  certops.aws.iam_signing_certificate:
    user_name: bob
    certificate_id: "{{ bob_cert.certificate.certificate_id }}"
    state: absent

- name: Against a non-default endpoint, with the connection set once for the whole group
  module_defaults:
    group/certops.aws.aws:
      endpoint_url: http://127.0.0.1:5000
      region: us-east-1
  block:
    - name: Upload a certificate for the user whose credentials are used
      certops.aws.iam_signing_certificate:
        certificate_body: "{{ lookup('ansible.builtin.file', 'files/me.pem') }}"
"""

RETURN = r"""
certificate:
  description:
    - The certificate the task is about, as it is after the task.
    - V(null) when O(state=absent).
    - In check mode, a certificate that would be uploaded has RV(certificate.certificate_id) and
      RV(certificate.upload_date) V(null).
  returned: success
  type: dict
  contains:
    certificate_id:
      description: The IAM ID of the certificate; V(null) for an upload predicted in check mode.
      type: str
      sample: TA7SMP42TDN5Z26OBPJE7EXAMPLE
    user_name:
      description: The IAM user that owns the certificate.
      type: str
      sample: bob
    status:
      description: C(Active) or C(Inactive) (IAM may also report C(Expired)).
      type: str
      sample: Active
    upload_date:
      description: When the certificate was uploaded, ISO 8601 UTC.
      type: str
      sample: "2026-11-26T12:00:00Z"
    certificate_body:
      description: The PEM body as IAM stores it.
      type: str
    fingerprint_sha256:
      description: SHA-256 of the DER encoding, colon-separated hex; the certificate's identity.
      type: str
      sample: "3A:5F:...:09"
    subject:
      description: The subject, as an RFC 4514 string.
      type: str
      sample: CN=bob,O=Example
    issuer:
      description: The issuer, as an RFC 4514 string.
      type: str
      sample: CN=bob,O=Example
    serial_number:
      description: The serial number.
      type: int
      sample: 1234567890
    not_before:
      description: Start of validity, ISO 8601 UTC.
      type: str
      sample: "2026-01-01T00:00:00Z"
    not_after:
      description: End of validity, ISO 8601 UTC.
      type: str
      sample: "2027-01-01T00:00:00Z"
    days_to_expiry:
      description: Whole days until RV(certificate.not_after); negative once expired.
      type: int
      sample: 36
certificates:
  description:
    - All signing certificates of the user after the task (predicted in check mode), oldest upload first.
    - Each has the same keys as RV(certificate).
  returned: success
  type: list
  elements: dict
"""

from typing import Any

from ansible_collections.certops.aws.plugins.module_utils.certificate import (
    Certificate,
    CertificateError,
    contains_private_key,
    iso8601,
    load_certificate,
    utc_now,
)
from ansible_collections.certops.aws.plugins.module_utils.iam import (
    QUOTA_PER_USER,
    IamError,
    describe,
    quota_message,
    who,
)
from ansible_collections.certops.aws.plugins.module_utils.module import AwsModule

STATUS_FOR_STATE = {"active": "Active", "inactive": "Inactive"}
DIFF_KEYS = ("certificate_id", "status", "fingerprint_sha256", "not_after")


def parse_options(module: AwsModule) -> Certificate | None:
    """Check every option against IAM's rules before any call; the parsed body, if given."""
    module.check_identifiers()
    body = module.params["certificate_body"]
    if body is None:
        # required_one_of counts an option given as null as present.
        if module.params["certificate_id"] is None:
            module.fail_json(msg="one of the following is required: certificate_body, certificate_id (both are null)")
        return None
    if contains_private_key(body):
        module.hide(body)
    try:
        return load_certificate(body)
    except CertificateError as exc:
        module.fail_json(msg=f"certificate_body {exc}")


def find_target(module: AwsModule, certificates: list[dict[str, Any]], wanted: Certificate | None) -> dict | None:
    """The user's certificate the task is about, or None; fails when body and ID disagree."""
    certificate_id = module.params["certificate_id"]
    by_id = next((c for c in certificates if c["certificate_id"] == certificate_id), None)
    if wanted is None:
        return by_id
    by_body = next((c for c in certificates if c["fingerprint_sha256"] == wanted.fingerprint_sha256), None)
    if certificate_id is None or by_id is by_body is None:
        return by_body
    if by_id is by_body:
        return by_id
    if by_body is None:
        module.fail_json(
            msg=f"certificate_id {certificate_id} and certificate_body name different certificates: "
            f"{certificate_id} has fingerprint {by_id['fingerprint_sha256']}, "
            f"the body has {wanted.fingerprint_sha256}"
        )
    module.fail_json(
        msg=f"certificate_id {certificate_id} and certificate_body name different certificates: "
        f"{who(module.params['user_name'])} has that body as {by_body['certificate_id']}"
    )


def check_uploadable(module: AwsModule, wanted: Certificate | None, certificates: list[dict[str, Any]]) -> Certificate:
    """Fail before any write when the certificate cannot be uploaded."""
    user_name, certificate_id = module.params["user_name"], module.params["certificate_id"]
    if certificate_id is not None:
        remedy = "IAM chooses the ID of an upload: give certificate_body without certificate_id to upload it"
        if wanted is None:
            remedy = "give certificate_body to upload a certificate"
        module.fail_json(msg=f"{who(user_name)} has no signing certificate with ID {certificate_id}; {remedy}")
    now = utc_now()
    if wanted.not_after < now:
        module.fail_json(
            msg=f"certificate_body expired on {iso8601(wanted.not_after)} ({wanted.subject}); IAM refuses "
            "expired certificates. An uploaded expired certificate can still be deactivated or deleted"
        )
    if wanted.not_before > now:
        module.fail_json(
            msg=f"certificate_body is not valid before {iso8601(wanted.not_before)} ({wanted.subject}); "
            "IAM refuses certificates that are not valid yet"
        )
    if len(certificates) >= QUOTA_PER_USER:
        module.fail_json(msg=quota_message(user_name, certificates))
    return wanted


def upload(module: AwsModule, api, wanted: Certificate) -> tuple[dict, bool]:
    """Upload the certificate; (its description, whether it was written)."""
    user_name, body = module.params["user_name"], module.params["certificate_body"]
    if module.check_mode:
        return {
            "certificate_id": None,
            "user_name": user_name,
            "status": "Active",
            "upload_date": None,
            "certificate_body": body,
            **wanted.fields(),
        }, True
    try:
        return describe(api.upload(user_name, body)), True
    except IamError as error:
        if error.code not in ("DuplicateCertificate", "LimitExceeded"):
            module.fail_iam(error)
        # Another writer raced us: decide again from what IAM now holds.
        current = [describe(raw) for raw in read(module, api)]
        again = next((c for c in current if c["fingerprint_sha256"] == wanted.fingerprint_sha256), None)
        if again is not None:
            return again, False
        if error.code == "LimitExceeded":
            module.fail_json(msg=quota_message(user_name, current), error_code=error.code)
        module.fail_iam(error)


def read(module: AwsModule, api) -> list[dict[str, Any]] | None:
    """The user's certificates; None when the user does not exist and state=absent."""
    try:
        return api.list(module.params["user_name"])
    except IamError as error:
        if error.code == "NoSuchEntity" and module.params["state"] == "absent":
            return None
        module.fail_iam(error)


def write(module: AwsModule, action, *args, uploaded: dict | None = None) -> bool:
    """Make one write unless in check mode; False when the certificate vanished and that is fine.

    `uploaded`: the certificate this task has just uploaded, named in the failure so nothing is left unsaid.
    """
    if module.check_mode:
        return True
    try:
        action(module.params["user_name"], *args)
    except IamError as error:
        # Deleted by someone else between our read and this write: absent is satisfied.
        if error.code == "NoSuchEntity" and module.params["state"] == "absent":
            return False
        if uploaded is None:
            module.fail_iam(error)
        module.fail_json(
            msg=f"The certificate was uploaded as {uploaded['certificate_id']} ({uploaded['status']}), "
            f"but then: {error.message}. Run the task again to finish",
            error_code=error.code,
            changed=True,
            certificate=uploaded,
        )
    return True


def main() -> None:
    module = AwsModule(
        argument_spec={
            "user_name": {"type": "str", "aliases": ["username"]},
            "certificate_body": {"type": "str", "aliases": ["certificate"]},
            "certificate_id": {"type": "str", "aliases": ["id"]},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent", "active", "inactive"]},
        },
        required_one_of=[("certificate_body", "certificate_id")],
        supports_check_mode=True,
    )
    state = module.params["state"]
    wanted = parse_options(module)
    api = module.signing_certificates()

    listed = read(module, api)
    before = sorted((describe(raw) for raw in listed or []), key=lambda c: c["upload_date"] or "")
    target = find_target(module, before, wanted)
    after = list(before)
    changed = False

    if state == "absent":
        if target is not None:
            changed = write(module, api.delete, target["certificate_id"])
            after.remove(target)
            target = None
    else:
        uploaded = None
        if target is None:
            target, changed = upload(module, api, check_uploadable(module, wanted, before))
            after = [c for c in after if c["certificate_id"] != target["certificate_id"]] + [target]
            uploaded = target if changed else None
        desired_status = STATUS_FOR_STATE.get(state)
        if desired_status and target["status"] != desired_status:
            changed = (
                write(module, api.set_status, target["certificate_id"], desired_status, uploaded=uploaded) or changed
            )
            updated = {**target, "status": desired_status}
            after = [updated if c is target else c for c in after]
            target = updated

    result: dict[str, Any] = {"changed": changed, "certificate": target, "certificates": after}
    if module._diff:
        result["diff"] = {
            "before": {"certificates": [{k: c[k] for k in DIFF_KEYS} for c in before]},
            "after": {"certificates": [{k: c[k] for k in DIFF_KEYS} for c in after]},
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
