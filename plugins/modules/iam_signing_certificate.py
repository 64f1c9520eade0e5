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
    With O(wait=true), a task that changes something then lists the user's certificates again until IAM shows
    the change.
  - IAM allows at most two signing certificates per user, inactive ones included. An upload that would pass
    that quota fails before any write, naming the certificates the user already has.
  - IAM allows a certificate on one user of an account. When IAM refuses an upload as a duplicate
    (C(DuplicateCertificate)) and the user's listing does not show the certificate, the module looks across the
    account; another user holds it - the task fails naming that user, as check mode does. Else, as IAM is eventually
    consistent, the certificate may be this user's, uploaded a moment ago (by an earlier task of the play, or
    another run) - the module lists the user's certificates again for up to 5 seconds, and goes on from the
    listing that shows it (no failure, C(changed) as the truth is); when none does, the task fails saying IAM
    reports a duplicate it lists on no user yet. Nothing is waited for when IAM accepts the upload.
author:
  - certops.aws contributors (@certops)
options:
  user_name:
    description:
      - The IAM user that owns the certificate.
      - When omitted, IAM acts on the user whose credentials sign the request.
      - 1 to 128 characters, ASCII letters, digits and C(_+=,.@-).
    type: str
    aliases: [username]
  certificate_body:
    description:
      - The certificate in PEM form, exactly one C(-----BEGIN CERTIFICATE-----) block, for example
        from C(lookup('ansible.builtin.file', 'cert.pem')).
      - As RFC 7468 allows, text around the block (such as the C(Bag Attributes) that C(openssl pkcs12 -nokeys)
        prints), a byte-order mark, CRLF line endings and any line wrapping are tolerated. What is uploaded is
        the block alone, in lines of 64 characters with LF endings; IAM's limit of 16384 characters applies to it.
      - A private key, a chain of several certificates, bare base64 or DER is refused before any call, and a
        private key is never shown in output, whichever check fails first.
      - An expired certificate, or one not yet valid, cannot be uploaded, but may be given to find a certificate
        already uploaded, for example to delete or deactivate it.
      - At least one of O(certificate_body) and O(certificate_id) is required.
    type: str
    aliases: [certificate]
  certificate_id:
    description:
      - The IAM ID of the certificate, 24 to 128 ASCII letters, digits or C(_).
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
  wait:
    description:
      - IAM is eventually consistent - a certificate just uploaded, changed or deleted can be missing from, or
        stale in, C(ListSigningCertificates) for seconds. With V(true), once this task's writes took effect,
        the module lists the user's certificates again until IAM shows the certificate as O(state) asks - listed
        (V(present)), listed with status C(Active) (V(active)) or C(Inactive) (V(inactive)), not listed
        (V(absent)) - so that the next task can rely on it.
      - Without it, a later task on the same user within IAM's window reads the state from before this task's
        writes - a deletion asked for right after an upload finds nothing to delete, and C(iam_signing_certificate_info)
        does not list the new certificate yet. Set it on a write that a later task of the play builds on.
      - The certificate is found as for the writes - by the fingerprint of O(certificate_body) when it is given,
        else by O(certificate_id); an upload by the fingerprint of what was uploaded.
      - It lists once right after the writes, then about every second until O(wait_timeout) seconds have passed.
        When IAM still does not show the certificate as asked, the task fails with RV(error_code=NotVisible) and
        C(changed=true) (the writes took effect), and returns the RV(certificate) as written.
      - A task that writes nothing (the certificate already is as asked) and check mode do not wait and make no
        further call.
      - On success, RV(certificate) and RV(certificates) are as the listing that showed the change has them.
    type: bool
    default: false
    version_added: 0.3.0
  wait_timeout:
    description:
      - With O(wait=true), how many seconds to keep listing, 0 to 600; V(0) lists once.
      - Without O(wait=true) it has no effect, but a value outside 0 to 600 is still refused before any call.
    type: int
    default: 120
    version_added: 0.3.0
extends_documentation_fragment:
  - certops.aws.aws
attributes:
  check_mode:
    support: full
    description:
      - Makes the same read and decision, returns the predicted result, and writes nothing.
      - When an upload is predicted, it also lists the certificates of every user of the account (C(iam:ListUsers)),
        to fail as the real upload would if another user holds the certificate; without that permission it warns.
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
# Every example works the same in check mode and for real: a certificate is named by its body, or by an ID read
# from IAM, never by the ID of an upload a check-mode run only predicts.
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

- name: Read bob's inactive certificates
  certops.aws.iam_signing_certificate_info:
    user_name: bob
    status: inactive
  register: bob_inactive

- name: Activate them again, found by their IDs
  certops.aws.iam_signing_certificate:
    user_name: bob
    certificate_id: "{{ item.certificate_id }}"
    state: active
  loop: "{{ bob_inactive.certificates }}"
  loop_control:
    label: "{{ item.certificate_id }}"

- name: Delete it, found by its body
  certops.aws.iam_signing_certificate:
    user_name: bob
    certificate_body: "{{ lookup('ansible.builtin.file', 'files/bob.pem') }}"
    state: absent

- name: Upload bob's certificate and return only once IAM lists it as active, for the next task to use
  certops.aws.iam_signing_certificate:
    user_name: bob
    certificate_body: "{{ lookup('ansible.builtin.file', 'files/bob.pem') }}"
    state: active
    wait: true
    wait_timeout: 60

- name: Against another endpoint (a VPC endpoint, a proxy, an emulator), set once for the whole group
  module_defaults:
    group/certops.aws.aws:
      # For example http://127.0.0.1:5000, where `make emulator` listens
      endpoint_url: "{{ iam_endpoint_url }}"
  block:
    - name: Upload bob's certificate there
      certops.aws.iam_signing_certificate:
        user_name: bob
        certificate_body: "{{ lookup('ansible.builtin.file', 'files/bob.pem') }}"
"""

RETURN = r"""
certificate:
  description:
    - The certificate the task is about, as it is after the task.
    - V(null) when O(state=absent).
    - In check mode, a certificate that would be uploaded has RV(certificate.certificate_id) and
      RV(certificate.upload_date) V(null).
    - With O(wait=true), as the listing that showed the change has it.
    - Also returned, as written, when the task fails after its writes took effect (a second write failed, or
      RV(error_code=NotVisible)).
  returned: success; also when the task fails after its writes took effect
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
      description:
        - The PEM body as IAM stores it, when the task found the certificate by O(certificate_id) alone.
        - Not returned when O(certificate_body) was given - it is that body, which the task already has - so that
          a result carries no body it was given (a result's C(invocation) shows PEM options by their fingerprint).
      returned: when O(certificate_body) is not given
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
      description:
        - The serial number in decimal, as a string - it is about 160 bits, more than a JSON number holds
          exactly (a JavaScript UI such as AWX's would round it).
      type: str
      sample: "1234567890"
    serial_number_hex:
      description: The serial number in upper-case hex, as C(openssl x509 -serial) prints it.
      type: str
      sample: 499602D2
    not_before:
      description: Start of validity, ISO 8601 UTC.
      type: str
      sample: "2026-01-01T00:00:00Z"
    not_after:
      description: End of validity, ISO 8601 UTC.
      type: str
      sample: "2027-01-01T00:00:00Z"
    days_to_expiry:
      description:
        - Whole days from now until RV(certificate.not_after), rounded down - V(0) during the last 24 hours of
          validity, V(-1) during the first 24 hours after expiry.
      type: int
      sample: 36
msg:
  description: In check mode, when an upload is predicted - why the certificate's ID and upload date are V(null).
  returned: check mode, when the certificate would be uploaded
  type: str
  sample: "check mode: the certificate would be uploaded; certificate.certificate_id and certificate.upload_date
    are null because IAM chooses them at upload. Identify this certificate in later tasks by its body"
certificates:
  description:
    - All signing certificates of the user after the task (predicted in check mode), oldest upload first.
    - With O(wait=true), as the listing that showed the change has them.
    - Each has the same keys as RV(certificate) except C(certificate_body) - the bodies of a user's
      certificates come from M(certops.aws.iam_signing_certificate_info), so that this result stays small.
  returned: success
  type: list
  elements: dict
error_code:
  description:
    - Why the task failed, in one word, for a playbook to branch on (C(failed_when), C(rescue)).
    - IAM's own code when IAM refused a call (for example C(AccessDenied), C(Throttling), C(ServiceFailure)).
    - Codes the collection sets itself - C(InvalidParameters) (an option breaks a rule, before any call),
      C(InvalidCertificateBody) (not exactly one PEM certificate, or a private key), C(CertificateExpired),
      C(CertificateNotYetValid), C(CertificateMismatch) (the body and the ID name different certificates),
      C(LimitExceeded) (the quota of 2 certificates per user, before any write as after a race), C(NoSuchEntity)
      (the user, or the certificate ID, does not exist), C(DuplicateCertificate), C(NoCredentials),
      C(Unreachable) (the endpoint could not be reached), C(ProfileNotFound), C(MissingLibrary), C(NotVisible)
      (with O(wait=true), the writes took effect but IAM did not list the certificate as O(state) asks within
      O(wait_timeout) seconds; C(changed) is V(true)).
  returned: failure
  type: str
  sample: LimitExceeded
"""

import datetime
from dataclasses import replace
from typing import Any

from ansible_collections.certops.aws.plugins.module_utils.certificate import (
    CertificateError,
    load_certificate,
    utc_now,
)
from ansible_collections.certops.aws.plugins.module_utils.executor import (
    DUPLICATE_SETTLE_SECONDS,
    execute,
    listed_after_refusal,
    listed_as_requested,
    read_certificates,
)
from ansible_collections.certops.aws.plugins.module_utils.iam import IamError, SigningCertificates
from ansible_collections.certops.aws.plugins.module_utils.module import AwsModule
from ansible_collections.certops.aws.plugins.module_utils.planner import (
    LISTING_ASKED,
    STATES,
    Plan,
    Request,
    find_target,
    plan_after_race,
    plan_certificate,
    with_upload,
    writes_done,
)
from ansible_collections.certops.aws.plugins.module_utils.rules import (
    DUPLICATE_CERTIFICATE,
    INVALID_CERTIFICATE_BODY,
    NOT_VISIBLE,
    Record,
    Refusal,
    diff_view,
    oldest_first,
    same_user,
    without_body,
)

OWNER_LOOKUP_CONCURRENCY = 8
MAX_WAIT_TIMEOUT = 600
PREDICTED_UPLOAD = (
    "check mode: the certificate would be uploaded; certificate.certificate_id and certificate.upload_date are "
    "null because IAM chooses them at upload. Identify this certificate in later tasks by its body"
)


def check_options(module: AwsModule) -> None:
    """Fail with a message naming the option before any call."""
    timeout = module.params["wait_timeout"]
    if not 0 <= timeout <= MAX_WAIT_TIMEOUT:
        module.fail_json(msg=f"wait_timeout must be between 0 and {MAX_WAIT_TIMEOUT} seconds, got {timeout}")


def parse_request(module: AwsModule) -> Request:
    """The request, with certificate_body parsed; a body that is not one valid certificate fails here."""
    params = module.params
    certificate = None
    if params["certificate_body"] is not None:
        try:
            certificate = load_certificate(params["certificate_body"])
        except CertificateError as exc:
            module.fail_json(msg=f"certificate_body {exc}", error_code=INVALID_CERTIFICATE_BODY)
    return Request(params["user_name"], params["state"], certificate, params["certificate_id"])


def read(module: AwsModule, api: SigningCertificates, user_name: str | None, now) -> list[Record] | None:
    """The user's certificates; None when the user does not exist."""
    try:
        return read_certificates(api, user_name, now)
    except IamError as error:
        module.fail_iam(error)


def other_holder(api: SigningCertificates, request: Request) -> str | None:
    """Another user of the account holding the certificate to upload, as IAM would answer the real upload.
    Raises IamError when the account cannot be looked at."""
    fingerprint = request.certificate.fingerprint_sha256 if request.certificate else None
    owner = api.owners(OWNER_LOOKUP_CONCURRENCY).get(fingerprint or "")
    return None if owner is None or same_user(owner, request.user_name) else owner


def owner_elsewhere(module: AwsModule, api: SigningCertificates, request: Request) -> str | None:
    """other_holder, or None with a warning when the account cannot be looked at (check mode's prediction)."""
    try:
        return other_holder(api, request)
    except IamError as error:
        module.warn(
            "could not find out whether another user of the account holds this certificate "
            f"({error.message}); if one does, IAM refuses the upload with DuplicateCertificate"
        )
        return None


def settle_duplicate(
    module: AwsModule, api: SigningCertificates, request: Request, replanned: Plan, now: datetime.datetime
) -> Plan:
    """IAM refused the upload as a duplicate, and the user's listing does not show the certificate: find it.

    Another user holds it: refused naming that user, as check mode is. Else IAM is eventually consistent and the
    certificate may be this user's, uploaded a moment ago (by an earlier task, another run, or this task's own
    request sent twice): the user's listing is read again for up to DUPLICATE_SETTLE_SECONDS; listed, the plan
    starts from that listing; never listed, refused saying so.
    """
    unknown = ""
    try:
        owner = other_holder(api, request)
    except IamError as error:
        owner, unknown = None, f" (whether another user holds it is unknown: {error.message})"
    if owner is not None:
        return plan_certificate(replanned.before, request, now, owner)
    try:
        listed = listed_after_refusal(api, request, DUPLICATE_CERTIFICATE, now)
    except IamError as error:
        module.fail_iam(error)
    if listed is not None:
        return plan_certificate(listed, request, now)
    refusal = Refusal(
        "IAM refused the upload as a duplicate (DuplicateCertificate), but lists the certificate on no user of the "
        f"account after {DUPLICATE_SETTLE_SECONDS} seconds{unknown}: IAM is eventually consistent, so it was "
        "probably uploaded a moment ago; nothing was written by this task. Run it again in a few seconds",
        DUPLICATE_CERTIFICATE,
    )
    return replace(replanned, actions=(), refusal=refusal)


def returned_certificate(certificate: Record | None, request: Request) -> Record | None:
    """The certificate as the task returns it: with its body only when the task was not given the body (found by
    certificate_id alone): a result echoes no body it was given."""
    return without_body(certificate) if request.certificate is not None else certificate


def wait_until_listed(
    module: AwsModule, api: SigningCertificates, request: Request, plan: Plan, now: datetime.datetime
) -> tuple[Record | None, list[Record]]:
    """The certificate and the user's certificates as the listing that shows this task's writes has them.

    The writes took effect, so a failure here says so (changed): IAM did not list them as requested within
    wait_timeout seconds (NotVisible), or a listing failed.
    """
    timeout = module.params["wait_timeout"]
    written = writes_done(plan, request.user_name)
    try:
        listed = listed_as_requested(api, request, timeout, now)
    except IamError as error:
        module.fail_json(
            msg=f"{written}, but then: {error.message}",
            error_code=error.code,
            changed=True,
            certificate=returned_certificate(plan.target, request),
        )
    if listed is None:
        module.fail_json(
            msg=f"{written}, but IAM did not {LISTING_ASKED[request.state]} within {timeout} "
            f"second{'' if timeout == 1 else 's'} (wait_timeout). IAM is eventually consistent: the change took "
            "effect; look again later or raise wait_timeout",
            error_code=NOT_VISIBLE,
            changed=True,
            certificate=returned_certificate(plan.target, request),
        )
    found = find_target(listed, request)
    return (found if isinstance(found, dict) else None), oldest_first(listed)


def main() -> None:
    module = AwsModule(
        argument_spec={
            "user_name": {"type": "str", "aliases": ["username"]},
            "certificate_body": {"type": "str", "aliases": ["certificate"]},
            "certificate_id": {"type": "str", "aliases": ["id"]},
            "state": {"type": "str", "default": "present", "choices": list(STATES)},
            "wait": {"type": "bool", "default": False},
            "wait_timeout": {"type": "int", "default": 120},
        },
        required_one_of=[("certificate_body", "certificate_id")],
        supports_check_mode=True,
    )
    check_options(module)
    request = parse_request(module)
    api = module.signing_certificates()
    now = utc_now()

    records = read(module, api, request.user_name, now)
    plan = plan_certificate(records, request, now)
    if module.check_mode and plan.uploads:
        # IAM refuses an upload of a certificate another user holds; check mode must find that out itself.
        plan = plan_certificate(records, request, now, owner_elsewhere(module, api, request))
    if plan.refusal is not None:
        module.fail_refusal(plan.refusal)
    changed = plan.changed
    if not module.check_mode:
        body = request.certificate.pem if request.certificate else None
        run = execute(api, request.user_name, plan, body, now)
        if run.raced:
            # Another writer changed the user between the read and the upload: read again and plan again.
            raced = run.error
            replanned = plan_certificate(read(module, api, request.user_name, now), request, now)
            if raced.code == DUPLICATE_CERTIFICATE and replanned.refusal is None and replanned.uploads:
                replanned = settle_duplicate(module, api, request, replanned, now)
            plan = plan_after_race(plan, replanned, Refusal(raced.message, raced.code))
            if plan.refusal is not None:
                module.fail_refusal(plan.refusal)
            run = execute(api, request.user_name, plan, body, now)
            # The certificate is there now: this task's own upload took effect if it was sent more than once.
            run.changed = run.changed or raced.resent
        if run.error is not None:
            failure = run.failure()
            if "certificate" in failure:
                failure["certificate"] = returned_certificate(failure["certificate"], request)
            module.fail_json(**failure)
        plan, changed = (with_upload(plan, run.uploaded) if run.uploaded else plan), run.changed

    certificate, certificates = plan.target, plan.after
    # No actions left after a race means the fresh listing already showed the request carried out.
    if module.params["wait"] and not module.check_mode and changed and plan.actions:
        certificate, certificates = wait_until_listed(module, api, request, plan, now)

    result: dict[str, Any] = {
        "changed": changed,
        "certificate": returned_certificate(certificate, request),
        "certificates": [without_body(rec) for rec in certificates],
    }
    if module.check_mode and plan.target is not None and plan.target["certificate_id"] is None:
        result["msg"] = PREDICTED_UPLOAD
    if module._diff:
        result["diff"] = {
            "before": {"certificates": diff_view(plan.before)},
            "after": {"certificates": diff_view(plan.after)},
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
