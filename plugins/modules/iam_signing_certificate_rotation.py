#!/usr/bin/python
# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: iam_signing_certificate_rotation
short_description: Rotate the X.509 signing certificates of one or many IAM users, safely
version_added: 0.2.0
description:
  - For each user in O(users), uploads the new certificate and, only once IAM lists it as active,
    deactivates or deletes the previously active certificates that are due.
  - The module behind the role C(certops.aws.signing_certificate_rotation), which most playbooks should use.
  - A rotation is due when every active certificate of the user expires within O(threshold_days) days
    (or the user has none), or when O(force) is set. Only due certificates are retired, unless forced.
  - Room within IAM's quota (2 certificates per user, inactive ones included) is made by deleting inactive
    certificates only, expired ones first, then the oldest, and only once the new certificate's validity and the
    quota are established. A user with 2 active certificates is not rotated and nothing of it changes.
  - Should the upload fail after room was made, the deleted certificates are uploaded again (under new IDs) and
    the user's entry names them. One that cannot be put back (expired, or the failure stops that upload too) is
    named as lost. A certificate someone else deleted meanwhile is neither claimed nor put back.
  - A write whose answer was lost (botocore sent it more than once, the last answer an error) is looked for in the
    user's listing for up to 5 seconds; when IAM shows it done, it is reported done and the rotation goes on.
  - The new certificate must be valid now and, unless forced, for longer than O(threshold_days) days.
  - Users are rotated concurrently, at most O(max_concurrency) requests in flight. A user that cannot be
    rotated does not stop the others; the task fails at the end, naming every failed user and why.
  - To find out whether another user of the account holds the new certificate (IAM allows a certificate on one
    user only), the certificates of every user are listed once per run, and only in check mode when an upload is
    planned, or after IAM refused an upload as a duplicate, to name the holder (C(iam:ListUsers)). The real run
    does not look before it deletes to make room - an expired certificate cannot be needed, and a valid one is
    uploaded again if the upload then fails - so its cost follows the list of users, not the account.
  - A new certificate that another user of O(users) holds now is refused for the user it is given to, in check
    mode as for real, whatever the order of the writes would be; rotate the holder first, then the other in a later
    run.
  - Each user's entry, C(changed) and the diff report what was written, never what was planned. A request that
    fails fails its user alone. Only when the endpoint is lost (no connection can be made, or requests fail on
    their way with no answer from IAM in between) are the users not started yet left alone, their entries
    C(not attempted) with error code C(Unreachable).
  - An upload IAM refuses as a duplicate (C(DuplicateCertificate)) that the user's listing does not show may be
    this user's, uploaded a moment ago by another run (IAM is eventually consistent) - the user's listing is read
    again for up to 5 seconds, and the rotation goes on with the certificate it shows. Otherwise the user fails,
    naming the user that holds the certificate when the account shows one.
author:
  - certops.aws contributors (@certops)
options:
  users:
    description:
      - The users to rotate, each a mapping of two keys - C(user_name), the IAM user (a string; a number, a name
        templated from digits only, is taken as the name it spells), and C(new_certificate), the new certificate's
        PEM body, one C(-----BEGIN CERTIFICATE-----) block (text around it is ignored; a private key is refused and
        never shown). Both are required in each entry.
      - A user may appear once. Two users may not be given the same certificate.
      - An entry that breaks a rule (not a mapping, a key other than those two, its user name or certificate missing,
        null, false or empty, invalid, or given twice) is refused alone, before any call, named by its position
        (C(users[1]) is the first); the other users are rotated, and the task fails naming it.
    type: list
    elements: raw
    required: true
  threshold_days:
    description:
      - Rotate a user only when every active certificate expires within this many days (or has expired).
      - A user with no active certificate is always due.
    type: int
    default: 30
  force:
    description: Rotate regardless of expiry, and retire every previously active certificate.
    type: bool
    default: false
  old_certificate_action:
    description: What happens to the previously active certificates once the new one is verified.
    type: str
    choices: [deactivate, delete]
    default: deactivate
  verify_retries:
    description: How many times to look for the new certificate as active (IAM is eventually consistent), 1 to 100.
    type: int
    default: 10
  verify_delay:
    description: Seconds between those looks, 0 to 60.
    type: float
    default: 3
  max_concurrency:
    description: How many users are handled at once (and the size of the HTTP connection pool), 1 to 64.
    type: int
    default: 8
extends_documentation_fragment:
  - certops.aws.aws
attributes:
  check_mode:
    support: full
    description:
      - Makes the same reads and decisions and writes nothing. Each user's entry in RV(results) says what
        the real run would do, including the certificates deleted to make room.
  diff_mode:
    support: full
    description: Shows the certificates (ID, status, fingerprint, expiry) of each user that changes, before and after.
seealso:
  - module: certops.aws.iam_signing_certificate
  - module: certops.aws.iam_signing_certificate_info
"""

EXAMPLES = r"""
- name: Rotate two users to their new certificates when they are due
  certops.aws.iam_signing_certificate_rotation:
    users:
      - user_name: bob
        new_certificate: "{{ lookup('ansible.builtin.file', 'certs/bob-2027.pem') }}"
      - user_name: carol
        new_certificate: "{{ lookup('ansible.builtin.file', 'certs/carol-2027.pem') }}"
    threshold_days: 30
    old_certificate_action: deactivate
  register: rotation

- name: One line per user
  ansible.builtin.debug:
    msg: "{{ item.user_name }}: {{ 'rotated to ' ~ item.new_certificate_id if item.rotated else item.reason }}"
  loop: "{{ rotation.results }}"
  loop_control:
    label: "{{ item.user_name }}"
"""

RETURN = r"""
results:
  description: One entry per user of O(users), in the same order; predicted in check mode.
  returned: success, and failure once the users were handled (not when an option is refused before any call)
  type: list
  elements: dict
  contains:
    user_name:
      description: The IAM user.
      type: str
      sample: bob
    rotated:
      description: Whether the new certificate was made (in check mode, would be made) the active one by this run.
      type: bool
    reason:
      description:
        - Why the user was or was not rotated, in plain words that follow "because"; for a user that failed before
          anything was read, why it failed.
      type: str
      sample: the active certificate ASCAOLD expires on 2026-12-09T00:00:00Z, within the threshold of 30 days
    summary:
      description:
        - The user's outcome in one line - what the run did (in check mode, would do) and why, or C(FAILED) and
          RV(results[].msg). The role C(certops.aws.signing_certificate_rotation) prints these lines.
      type: str
      sample: rotated to ASCANEW because the active certificate ASCAOLD expires on 2026-12-09T00:00:00Z, within the
        threshold of 30 days; deactivated the old ASCAOLD
      version_added: 0.3.0
    new_certificate_id:
      description: The IAM ID of the new certificate; V(null) when it is not uploaded (or, in check mode, not yet).
      type: str
    new_fingerprint_sha256:
      description: SHA-256 fingerprint of the new certificate; V(null) when it could not be parsed.
      type: str
    retired:
      description: IDs of the previously active certificates deactivated or deleted (in check mode, that would be).
      type: list
      elements: str
    deleted_to_make_room:
      description: IDs of inactive certificates deleted (in check mode, that would be) to make room for the upload.
      type: list
      elements: str
    changed:
      description: Whether anything of this user changed.
      type: bool
    failed:
      description: Whether this user could not be rotated (or the rotation stopped part way).
      type: bool
    msg:
      description: Why this user failed; empty when it did not.
      type: str
    error_code:
      description: For a failed user, as RV(error_code); V(null) otherwise.
      type: str
msg:
  description: When any user failed, the users that failed and why.
  returned: failure
  type: str
error_code:
  description:
    - Why the task failed, in one word. C(RotationFailed) when one or more users failed (see RV(results)).
    - Codes set by the collection, besides IAM's own (such as C(AccessDenied)) -
      C(InvalidParameters), C(InvalidCertificateBody), C(CertificateExpired), C(CertificateNotYetValid),
      C(RotationBlocked), C(LimitExceeded), C(DuplicateCertificate), C(NoSuchEntity), C(NotVerified),
      C(NoCredentials), C(Unreachable), C(ProfileNotFound), C(MissingLibrary).
  returned: failure
  type: str
  sample: RotationFailed
"""

from typing import Any

from ansible_collections.certops.aws.plugins.module_utils.certificate import utc_now
from ansible_collections.certops.aws.plugins.module_utils.fleet import RotationSettings, Rotator, parse_users
from ansible_collections.certops.aws.plugins.module_utils.module import AwsModule
from ansible_collections.certops.aws.plugins.module_utils.rotation import OLD_CERTIFICATE_ACTIONS

LIMITS = {"threshold_days": (0, 36500), "verify_retries": (1, 100), "verify_delay": (0, 60), "max_concurrency": (1, 64)}


def check_options(module: AwsModule) -> None:
    params = module.params
    for option, (lowest, highest) in LIMITS.items():
        if not lowest <= params[option] <= highest:
            module.fail_json(msg=f"{option} must be between {lowest} and {highest}, got {params[option]}")


def main() -> None:
    module = AwsModule(
        argument_spec={
            # Each entry is checked by parse_users, so that one bad entry is refused alone, not the whole list.
            "users": {"type": "list", "elements": "raw", "required": True},
            "threshold_days": {"type": "int", "default": 30},
            "force": {"type": "bool", "default": False},
            "old_certificate_action": {
                "type": "str",
                "default": "deactivate",
                "choices": list(OLD_CERTIFICATE_ACTIONS),
            },
            "verify_retries": {"type": "int", "default": 10},
            "verify_delay": {"type": "float", "default": 3},
            "max_concurrency": {"type": "int", "default": 8},
        },
        supports_check_mode=True,
    )
    check_options(module)
    params = module.params
    settings = RotationSettings(
        threshold_days=params["threshold_days"],
        force=params["force"],
        retire_by_deleting=params["old_certificate_action"] == "delete",
        verify_retries=params["verify_retries"],
        verify_delay=params["verify_delay"],
        max_concurrency=params["max_concurrency"],
    )
    rotations = parse_users(params["users"])
    api = module.signing_certificates(max_pool_connections=settings.max_concurrency)
    rotator = Rotator(api, settings, module.check_mode, utc_now())
    rotator.rotate_all(rotations)

    for warning in rotator.warnings:
        module.warn(warning)
    results = rotator.results(rotations)
    outcome: dict[str, Any] = {"changed": any(entry["changed"] for entry in results), "results": results}
    if module._diff:
        outcome["diff"] = rotator.diff(rotations)
    failed = [entry for entry in results if entry["failed"]]
    if failed:
        module.fail_json(
            msg=f"{len(failed)} of {len(results)} users could not be rotated: "
            # An entry refused for its shape may have no user name: its message names it by position.
            + "; ".join(
                f"{entry['user_name']}: {entry['msg']}" if entry["user_name"] else entry["msg"] for entry in failed
            ),
            error_code="RotationFailed",
            **outcome,
        )
    module.exit_json(**outcome)


if __name__ == "__main__":
    main()
