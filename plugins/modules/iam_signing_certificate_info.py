#!/usr/bin/python
# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: iam_signing_certificate_info
short_description: List the X.509 signing certificates of IAM users, with parsed expiry
version_added: 0.1.0
description:
  - Lists the signing certificates of one IAM user, or of every IAM user of the account, with the subject,
    issuer, serial number, validity dates, days to expiry and SHA-256 fingerprint parsed from each body.
  - Filters narrow the result, for example to the certificates that expire within a number of days.
  - Read-only; runs the same in check mode.
author:
  - certops.aws contributors (@certops)
options:
  user_name:
    description:
      - The IAM user whose certificates are listed.
      - When omitted (and O(all_users) is not set), IAM lists the certificates of the user whose
        credentials sign the request.
    type: str
    aliases: [username]
  all_users:
    description:
      - List the certificates of every IAM user of the account.
      - Users are listed with C(ListUsers) and queried concurrently, at most O(max_concurrency) at a time.
      - A user deleted while the task runs is skipped.
    type: bool
    default: false
  max_concurrency:
    description:
      - With O(all_users), how many users are queried at once (and the size of the HTTP connection pool).
      - Between 1 and 64. Lower it if IAM throttles the account.
    type: int
    default: 8
  certificate_id:
    description: Only the certificate with this ID.
    type: str
    aliases: [id]
  status:
    description:
      - Only certificates with this status, V(Active) or V(Inactive), in any case (V(active) works too, as
        O(certops.aws.iam_signing_certificate#module:state) is written).
    type: str
  expiring_within_days:
    description:
      - Only certificates that expire within this many days from now, already expired ones included, that is
        whose RV(certificates[].not_after) is at most now plus this many days, exactly.
      - V(0) keeps the certificates that have expired. A certificate whose body IAM returned unparseable
        never matches. At most V(36500).
    type: int
  include_body:
    description:
      - Whether each certificate's PEM body is returned, as RV(certificates[].certificate_body).
      - V(false) for an audit of many certificates - a body is about 1.6 kB, the rest of a certificate's entry
        about 0.5 kB, and a report needs only the parsed fields (each AWX job event carries the whole result).
    type: bool
    default: true
    version_added: 0.3.0
extends_documentation_fragment:
  - certops.aws.aws
attributes:
  check_mode:
    support: full
    description: Read-only; check mode changes nothing.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no difference to show.
seealso:
  - module: certops.aws.iam_signing_certificate
"""

EXAMPLES = r"""
- name: The certificates of bob
  certops.aws.iam_signing_certificate_info:
    user_name: bob
  register: bob_certs

- name: Every active certificate of the account that expires within 30 days
  certops.aws.iam_signing_certificate_info:
    all_users: true
    status: Active
    expiring_within_days: 30
  register: expiring

- name: Report them
  ansible.builtin.debug:
    msg: "{{ item.user_name }} {{ item.certificate_id }} expires {{ item.not_after }} ({{ item.days_to_expiry }} days)"
  loop: "{{ expiring.certificates }}"
  loop_control:
    label: "{{ item.certificate_id }}"

- name: The same for a report of many users - without the PEM bodies, which the report does not show
  certops.aws.iam_signing_certificate_info:
    all_users: true
    expiring_within_days: 30
    include_body: false
  register: expiring_for_report

# Ad hoc, from a shell:
# ansible localhost -m certops.aws.iam_signing_certificate_info -a 'user_name=bob'
"""

RETURN = r"""
certificates:
  description:
    - The certificates that pass the filters, sorted by user name, then upload date.
  returned: success
  type: list
  elements: dict
  contains:
    certificate_id:
      description: The IAM ID of the certificate.
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
        - The PEM body as IAM stores it.
        - The only place a body is returned from IAM - what a task needs to use the certificate elsewhere.
      returned: when O(include_body=true)
      type: str
    fingerprint_sha256:
      description:
        - SHA-256 of the DER encoding, colon-separated hex.
        - The parsed fields are V(null) if IAM returned a body that cannot be parsed.
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
        - Whole days from now until RV(certificates[].not_after), rounded down - V(0) during the last 24 hours of
          validity, V(-1) during the first 24 hours after expiry.
      type: int
      sample: 36
error_code:
  description:
    - Why the task failed, in one word, for a playbook to branch on; IAM's own code when IAM refused a call.
    - The codes are those of RV(certops.aws.iam_signing_certificate#module:error_code), for example
      C(InvalidParameters), C(NoSuchEntity) (the user does not exist), C(AccessDenied), C(Throttling),
      C(Unreachable), C(NoCredentials).
  returned: failure
  type: str
  sample: NoSuchEntity
"""

from typing import Any

from ansible_collections.certops.aws.plugins.module_utils.certificate import utc_now
from ansible_collections.certops.aws.plugins.module_utils.iam import IamError
from ansible_collections.certops.aws.plugins.module_utils.module import AwsModule
from ansible_collections.certops.aws.plugins.module_utils.rules import (
    ACTIVE,
    INACTIVE,
    NO_SUCH_ENTITY,
    Record,
    expiring_within,
    no_such_user,
    record,
    without_body,
)

MAX_CONCURRENCY = 64
MAX_DAYS = 36500  # a hundred years: beyond, no certificate's expiry can be told apart, and dates overflow
STATUSES = (ACTIVE, INACTIVE)


def check_options(module: AwsModule) -> None:
    """Fail with a message naming the option before any call; status in IAM's spelling."""
    params = module.params
    if params["status"] is not None:
        status = params["status"].capitalize()
        if status not in STATUSES:
            module.fail_json(msg=f"status must be Active or Inactive (in any case), got {params['status']!r}")
        params["status"] = status
    if not 1 <= params["max_concurrency"] <= MAX_CONCURRENCY:
        module.fail_json(
            msg=f"max_concurrency must be between 1 and {MAX_CONCURRENCY}, got {params['max_concurrency']}"
        )
    days = params["expiring_within_days"]
    if days is not None and not 0 <= days <= MAX_DAYS:
        module.fail_json(msg=f"expiring_within_days must be between 0 and {MAX_DAYS}, got {days}")


def wanted(certificate: Record, params: dict[str, Any], now) -> bool:
    """Whether a certificate passes the filters."""
    if params["certificate_id"] is not None and certificate["certificate_id"] != params["certificate_id"]:
        return False
    if params["status"] is not None and certificate["status"] != params["status"]:
        return False
    days = params["expiring_within_days"]
    return days is None or expiring_within(certificate, days, now)


def main() -> None:
    module = AwsModule(
        argument_spec={
            "user_name": {"type": "str", "aliases": ["username"]},
            "all_users": {"type": "bool", "default": False},
            "max_concurrency": {"type": "int", "default": 8},
            "certificate_id": {"type": "str", "aliases": ["id"]},
            "status": {"type": "str"},
            "expiring_within_days": {"type": "int"},
            "include_body": {"type": "bool", "default": True},
        },
        mutually_exclusive=[("user_name", "all_users")],
        supports_check_mode=True,
    )
    check_options(module)
    params = module.params
    try:
        if params["all_users"]:
            api = module.signing_certificates(max_pool_connections=params["max_concurrency"])
            listed = api.list_for_users(api.list_user_names(), params["max_concurrency"])
        else:
            listed = module.signing_certificates().list(params["user_name"])
    except IamError as error:
        if error.code == NO_SUCH_ENTITY and not params["all_users"]:
            module.fail_refusal(no_such_user(params["user_name"]))
        module.fail_iam(error)

    now = utc_now()
    certificates = [c for c in (record(raw, now) for raw in listed) if wanted(c, params, now)]
    certificates.sort(key=lambda c: (c["user_name"] or "", c["upload_date"] or ""))
    if not params["include_body"]:
        certificates = [without_body(certificate) for certificate in certificates]
    module.exit_json(changed=False, certificates=certificates)


if __name__ == "__main__":
    main()
