#!/usr/bin/python
# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: host_signing_certificate_step
short_description: Change a host's signing directory one step of a planned rotation at a time
version_added: 0.3.0
description:
  - Carries out one host step of a plan of M(certops.aws.host_signing_certificate_plan), for the role
    C(certops.aws.host_signing_certificate). Most playbooks use the role, not this module.
  - V(begin) takes the directory's lock (one run at a time), provided the directory is as the plan saw it, then
    makes what the plan says before anything is written to IAM - the directory, the ledger of retired certificates
    (C(retired.json)), the adoption of a pair placed by hand, the removal of what an interrupted run left, and the
    new pair's private directory, staged as C(next).
  - V(switch) points C(previous) at the pair in use and C(current) at the new pair (one atomic rename switches key
    and certificate together), then runs O(check_command); when it fails, switches back and fails.
  - V(switch_back) points C(current) back at the pair in use before the switch (after a failed consumer check of
    the role's check tasks).
  - V(end) clears C(next), removes the pairs whose certificates were retired, forgets C(previous), sets the key's
    owner and mode, and releases the lock. V(abort) only releases the lock (after a failure; what was done stays for
    the next run to finish).
  - Acts only on the layout's own names, through directory descriptors opened without following links; never on a
    link or a file the role did not make. New files and directories get their final owner and mode before anyone
    else can open them.
author:
  - certops.aws contributors (@certops)
options:
  path:
    description:
      - The signing directory, as M(certops.aws.host_signing_certificate_info) returned it
        (RV(certops.aws.host_signing_certificate_info#module:directory.path)).
    type: path
    required: true
  step:
    description: The step to take.
    type: str
    required: true
    choices: [begin, switch, switch_back, end, abort]
  run:
    description:
      - Who runs - C(id) (the run's identifier), C(controller) (the ansible process that holds the lock) and C(lease)
        (seconds the lock holds without a step of the run renewing it), as the plan returns them.
    type: dict
    required: true
  arguments:
    description:
      - The step's arguments, as the plan's RV(certops.aws.host_signing_certificate_plan#module:plan.steps) gives
        them.
    type: dict
    default: {}
  check_command:
    description: With V(switch) - the consumer check, run without a shell once the new pair is in place.
    type: str
attributes:
  check_mode:
    support: none
    description: The role runs no step in check mode; the plan is its preview.
  diff_mode:
    support: none
    description: The plan's diff shows the host's pairs before and after.
seealso:
  - module: certops.aws.host_signing_certificate_info
  - module: certops.aws.host_signing_certificate_plan
requirements:
  - A POSIX host (Linux, BSD or macOS) whose Python has C(os.O_NOFOLLOW), C(os.O_DIRECTORY) and C(fcntl); no
    library beyond the standard one (the key is made by C(community.crypto.openssl_privatekey)).
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

- name: Decide
  certops.aws.host_signing_certificate_plan:
    look: "{{ look }}"
    certificates: "{{ listed.certificates }}"
  register: decision

# The role runs each step the plan has; after a failure, it releases the lock (what was done stays for the next run).
- name: Release the lock of this run, if it holds it
  certops.aws.host_signing_certificate_step:
    path: "{{ look.directory.path }}"
    step: abort
    run: "{{ decision.run }}"
"""

RETURN = r"""
done:
  description: What the step changed, one sentence each, in order.
  returned: always
  type: list
  elements: str
  sample:
    - took the pair placed by hand into pairs/adopted-0f3c9a61d2e84b07
    - staged pairs/20261204T101500.123456Z as next
removed:
  description: The pairs the step removed from the host (the keys in them included).
  returned: always
  type: list
  elements: str
error_code:
  description:
    - Why the step failed - C(LockHeld) (another run holds the lock), C(LockLost) (another run took over the lock
      after this one's lease ran out), C(HostChanged) (the directory changed since it was read), C(HostLayoutRefused)
      (something in the directory is not as the role made it), C(ConsumerCheckFailed), C(HostStepFailed) (the
      system refused a change).
  returned: failure
  type: str
"""

import os
import re
import shlex
import time

from ansible_collections.certops.aws.plugins.module_utils.certificate import contains_private_key
from ansible_collections.certops.aws.plugins.module_utils.host_layout import LayoutError, Step
from ansible_collections.certops.aws.plugins.module_utils.host_module import HostModule


def begin(step: Step, args: dict) -> None:
    dir_fd, created = step.open_dir({"gid": args.get("gid")} if args.get("create") else None)
    try:
        step.take_lock(dir_fd, "created" if created else args.get("token"), created=created)
        step.sweep(dir_fd)
        step.set_modes(dir_fd, args.get("modes") or [])
        if args.get("ledger") is not None:
            step.write_ledger(dir_fd, args["ledger"])
        if args.get("adopt") or args.get("stage"):
            step.make_pairs_dir(dir_fd, args.get("gid"))
        if args.get("adopt"):
            step.adopt(dir_fd, args["adopt"])
        elif args.get("relink"):
            step.relink(dir_fd)
        if args.get("detach"):
            step.switch_back(dir_fd, None)
        for pointer in args.get("forget") or []:
            step.point(dir_fd, pointer, None)
        for name in args.get("discard") or []:
            step.remove_pair(dir_fd, name)
        if args.get("stage"):
            step.stage(dir_fd, args["stage"], args.get("gid"))
    finally:
        os.close(dir_fd)


def switch(step: Step, args: dict, run_check) -> None:
    dir_fd, _created = step.open_dir(None)
    try:
        step.take_lock(dir_fd, None)
        step.open_pair(dir_fd, args["to"], args.get("gid"))
        if args.get("from"):
            step.point(dir_fd, "previous", args["from"])
        step.point(dir_fd, "current", args["to"])
        step.relink(dir_fd)
        if run_check is None:
            return
        failure = run_check()
        if failure is None:
            return
        # The check may have outlasted the lease: switch back only while this run still holds the directory.
        step.take_lock(dir_fd, None)
        step.switch_back(dir_fd, args.get("from"))
        raise LayoutError(
            f"the consumer check failed ({failure}); switched back to "
            + (f"the previous pair (pairs/{args['from']})" if args.get("from") else "no pair, as before")
            + f". pairs/{args['to']} stays staged as next: a later run switches to it and checks again",
            "ConsumerCheckFailed",
        )
    finally:
        os.close(dir_fd)


def switch_back(step: Step, args: dict) -> None:
    dir_fd, _created = step.open_dir(None)
    try:
        step.take_lock(dir_fd, None)
        step.switch_back(dir_fd, args.get("from"))
    finally:
        os.close(dir_fd)


def end(step: Step, args: dict) -> None:
    dir_fd, _created = step.open_dir(None)
    try:
        step.take_lock(dir_fd, args.get("token"))
        step.sweep(dir_fd)
        if args.get("ledger") is not None:
            step.write_ledger(dir_fd, args["ledger"])
        step.set_modes(dir_fd, args.get("modes") or [])
        if args.get("clear_next"):
            step.point(dir_fd, "next", None)
        for name in args.get("remove") or []:
            step.remove_pair(dir_fd, name)
        if args.get("forget_previous"):
            step.point(dir_fd, "previous", None)
        step.release_lock(dir_fd)
    finally:
        os.close(dir_fd)


def abort(step: Step) -> None:
    try:
        dir_fd, _created = step.open_dir(None)
    except (LayoutError, FileNotFoundError):
        return
    try:
        step.release_lock(dir_fd)
    finally:
        os.close(dir_fd)


def main() -> None:
    module = HostModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "step": {"type": "str", "required": True, "choices": ["begin", "switch", "switch_back", "end", "abort"]},
            "run": {"type": "dict", "required": True},
            "arguments": {"type": "dict", "default": {}},
            "check_command": {"type": "str"},
        },
        supports_check_mode=False,
    )
    params = module.params
    args = params["arguments"] or {}
    step = Step(params["path"], params["run"], time.time)
    result = {"changed": False, "done": step.done, "removed": step.removed}

    def run_check():
        rc, stdout, stderr = module.run_command(shlex.split(params["check_command"]))
        if rc == 0:
            return None
        said = (stderr or stdout or "").strip().splitlines()
        last = said[-1][:300] if said else ""
        if not last or contains_private_key(last) or re.search(r"[A-Za-z0-9+/=]{40,}", last):
            return f"{params['check_command']!r} exited with {rc}"  # a check that prints key material is not echoed
        return f"{params['check_command']!r} exited with {rc}: {last}"

    try:
        if params["step"] == "begin":
            begin(step, args)
        elif params["step"] == "switch":
            switch(step, args, run_check if params["check_command"] else None)
        elif params["step"] == "switch_back":
            switch_back(step, args)
        elif params["step"] == "end":
            end(step, args)
        else:
            abort(step)
    except LayoutError as error:
        module.fail_json(
            msg=error.message, error_code=error.code, changed=bool(step.done), done=step.done, removed=step.removed
        )
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        module.fail_json(
            msg=f"could not {params['step']}: {error.strerror or error}{where}; what was done before is listed in done",
            error_code="HostStepFailed",
            changed=bool(step.done),
            done=step.done,
            removed=step.removed,
        )
    result["changed"] = bool(step.done)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
