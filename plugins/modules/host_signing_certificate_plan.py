#!/usr/bin/python
# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The documentation of the action plugin plugins/action/host_signing_certificate_plan.py: it runs on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: host_signing_certificate_plan
short_description: Decide one host's run of the role host_signing_certificate
version_added: 0.3.0
description:
  - The decision of the role C(certops.aws.host_signing_certificate) for one host, on the controller and without any
    call - from what M(certops.aws.host_signing_certificate_info) read on the host and what
    M(certops.aws.iam_signing_certificate_info) listed for its IAM user, what the run does on the host and in IAM, in
    order. Most playbooks use the role, not this action.
  - V(provision) (the host has no pair), V(rotate) (the host's certificate is due, forced, or not active in IAM),
    V(resume) (an earlier run uploaded a staged pair, or switched to it and stopped before the consumer check),
    V(finish) (nothing is due, but an earlier run left something to finish or tidy), V(none), or V(blocked)
    (nothing at all may be done, RV(plan.reason) says why).
  - The host retires and deletes only certificates it made (each certificate the role makes names the host and
    IAM user, directory and account label it was made for, in a subject alternative name
    C(URI:urn:certops:aws:made-for:<host>:<user>:<dir>:<account>)), that it
    retired before (the directory's C(retired.json)), or that a pair on it holds; any, when forced. So a run that
    sees only some of the hosts of an IAM user (C(--limit), job slicing) never disables another host's certificate.
  - A pair the role did not make for this host (a copy), a pair made for another IAM user, a pair whose certificate
    the user does not have, a link or file in the directory the role did not make, a directory of another user, or a
    lock held by another run that is still working - the host is blocked, and nothing is written.
  - Writes nothing. In check mode, C(changed) says whether the run would change anything, and with C(--diff) the
    diff shows the host's pairs and the user's certificates before and after.
author:
  - certops.aws contributors (@certops)
options:
  look:
    description: The registered result of M(certops.aws.host_signing_certificate_info) for this host.
    type: dict
    required: true
  certificates:
    description:
      - The IAM user's certificates, RV(certops.aws.iam_signing_certificate_info#module:certificates).
    type: list
    elements: dict
    required: true
  shared_with:
    description:
      - Other hosts of the play with the same IAM user (in the same account); when there are any, the host is blocked.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: Decides the same; C(changed) previews whether the run would change anything.
  diff_mode:
    support: full
    description: The host's pairs (in use, staged, previous, all) and the user's certificates, before and after.
  action:
    support: full
    description: An action plugin on the controller.
  connection:
    support: none
    description: Runs on the controller only.
seealso:
  - module: certops.aws.host_signing_certificate_info
  - module: certops.aws.host_signing_certificate_step
requirements:
  - cryptography >= 42.0.0 (on the controller, which reads the certificates the host and IAM returned)
"""

EXAMPLES = r"""
- name: Look at the signing directory of this host (public facts only)
  certops.aws.host_signing_certificate_info:
    options:
      user_name: alice
      dir: /etc/certops/signing
      host_name: "{{ inventory_hostname }}"
  register: look

- name: The IAM user's certificates
  certops.aws.iam_signing_certificate_info:
    user_name: "{{ look.options.user_name }}"
  register: listed

- name: Decide (writes nothing)
  certops.aws.host_signing_certificate_plan:
    look: "{{ look }}"
    certificates: "{{ listed.certificates }}"
  register: decision

- name: What the run would do
  ansible.builtin.debug:
    msg: "{{ decision.plan.summary }}"
"""

RETURN = r"""
plan:
  description: The decision.
  returned: always
  type: dict
  contains:
    action:
      description: V(provision), V(rotate), V(resume), V(finish), V(none) or V(blocked).
      type: str
      sample: rotate
    reason:
      description: Why, in a sentence.
      type: str
    error_code:
      description:
        - When blocked, why in one word - C(SharedIamUser), C(LockHeld), C(HostDirectoryUnsafe),
          C(HostLayoutForeign), C(HostPairUnusable), C(HostPairCopied), C(HostPairOtherUser),
          C(HostCertificateUnknown), C(LimitExceeded), C(InvalidParameters); else V(null).
      type: str
    summary:
      description: What the run would do, in a line.
      type: str
    changes:
      description: Whether the run changes anything on the host or in IAM.
      type: bool
    blocked:
      description: Whether nothing may be done.
      type: bool
    make_room:
      description: IDs of certificates to delete in IAM before the upload.
      type: list
      elements: str
    retire:
      description: IDs of certificates to deactivate (or delete) after the switch and the consumer check.
      type: list
      elements: str
    remove:
      description: Pairs removed from the host at the end, their certificates retired or deleted by this host.
      type: list
      elements: str
    discard:
      description: Pairs an interrupted run left that never reached IAM, removed at the start.
      type: list
      elements: str
    keep:
      description: Pairs left on the host that the role may not remove.
      type: list
      elements: str
    steps:
      description: The arguments of each step of the role (V(null) for a step that does not run).
      type: dict
    before:
      description: The host's pairs and the user's certificates now.
      type: dict
    after:
      description: The same, once the run is done.
      type: dict
run:
  description: The run's identity for the directory's lock - an identifier, the controller's ansible process, the lease.
  returned: always
  type: dict
msg:
  description: RV(plan.summary).
  returned: always
  type: str
"""
