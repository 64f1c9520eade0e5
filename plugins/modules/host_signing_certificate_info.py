#!/usr/bin/python
# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: host_signing_certificate_info
short_description: Check the options of the role host_signing_certificate and read a host's signing directory
version_added: 0.3.0
description:
  - The first step of the role C(certops.aws.host_signing_certificate), in one run on the host - check the role's
    options, then read the public facts of the host's signing directory, for the role's planner
    (M(certops.aws.host_signing_certificate_plan)). Most playbooks use the role, not this module.
  - Reads without following any link - a link is read as a link (its target as text) - and never writes.
  - Private keys are read on the host only to hash their public half, to match them with their certificates; neither
    a key nor anything of its private half is returned.
  - Where the directory's parents would let another user replace it (a parent writable by others, or owned by
    another user), or the directory itself is a link, RV(directory.problem) says so.
author:
  - certops.aws contributors (@certops)
options:
  options:
    description:
      - The options of the role, by their names without the C(host_signing_certificate_) prefix (for example
        C(user_name), C(dir), C(owner)), as the role documents them (C(ansible-doc -t role
        certops.aws.host_signing_certificate)). C(host_name) is the name recorded in the certificates the role makes
        (the role passes the inventory host name).
      - An option set to V(null), V(false) or an empty string takes its default.
      - Any option that breaks its rules fails the task before anything is read, naming the role's variable.
    type: dict
    required: true
attributes:
  check_mode:
    support: full
    description: Reads the same; it never writes.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
seealso:
  - module: certops.aws.host_signing_certificate_plan
  - module: certops.aws.host_signing_certificate_step
requirements:
  - cryptography >= 42.0.0 (on the host)
notes:
  - The directory's layout is described in the role's guide, C(docs/guides/host_rotation.md).
"""

EXAMPLES = r"""
- name: Look at the signing directory of a host
  certops.aws.host_signing_certificate_info:
    options:
      user_name: alice
      dir: /etc/certops/signing
      host_name: "{{ inventory_hostname }}"
  register: look

- name: Where the consumer's key is
  ansible.builtin.debug:
    msg: "{{ look.directory.entries['current'].target | default('no pair yet') }}"
"""

RETURN = r"""
options:
  description: The role's options with their defaults, numbers and booleans converted.
  returned: success
  type: dict
  sample: {"user_name": "build-01", "dir": "/etc/certops/signing", "threshold_days": 30, "force": false}
directory:
  description:
    - The public facts of the directory, for the planner - where it really is, who owns it, the links and pairs
      in it (types, owners, modes, link targets), for each pair the SHA-256 fingerprint, validity and made-for name
      of its certificate and the SHA-256 of its key's public half, the lock of a run that is changing it, the
      certificates the host retired (C(retired.json)), and a digest of all this (C(token)).
  returned: success
  type: dict
  contains:
    path:
      description: The directory, its parents' links resolved.
      type: str
    problem:
      description: Why the directory cannot be used, or V(null).
      type: str
    exists:
      description: Whether the directory exists.
      type: bool
    token:
      description: A digest of what was read; a later step refuses to change the directory when it differs.
      type: str
"""

import time

from ansible_collections.certops.aws.plugins.module_utils.certificate import utc_now
from ansible_collections.certops.aws.plugins.module_utils.host_layout import look
from ansible_collections.certops.aws.plugins.module_utils.host_module import HostModule
from ansible_collections.certops.aws.plugins.module_utils.host_options import check_options


def main() -> None:
    module = HostModule(argument_spec={"options": {"type": "dict", "required": True}}, supports_check_mode=True)
    module.require_cryptography()
    options, problems = check_options(module.params["options"], utc_now())
    if problems:
        module.fail_json(msg="; ".join(problems) + "; nothing was read or changed", error_code="InvalidParameters")
    directory = look(options["dir"], options["owner"], options["group"], time.time())
    module.exit_json(changed=False, options=options, directory=directory)


if __name__ == "__main__":
    main()
