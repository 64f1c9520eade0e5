"""The shape issue 10 asked for, read from the source: a test fails when a change breaks it.

- The planners (planner.py, rotation.py, host_rotation.py) and their rules (rules.py, host_options.py) are pure: no
  I/O, no boto3, no Ansible, no clock of their own (the time is a parameter).
- Only the module classes end a task (fail_json, exit_json): module_utils/module.py for the AWS modules and
  module_utils/host_module.py for the modules on the hosts (which must not import boto3): no helper both decides and
  fails.
- Only iam.py and connection.py talk to boto3/botocore (iam.py takes a client that connection.py builds); no
  module or filter imports them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
MODULE_UTILS = PLUGINS / "module_utils"
PURE = ("planner", "rules", "rotation", "host_rotation", "host_options")
# What a pure module may import: the standard library parts that compute, and its sibling pure modules.
PURE_IMPORTS = {"__future__", "datetime", "dataclasses", "typing", "collections.abc", "re", "shlex"}
PURE_SIBLINGS = {"certificate", *PURE}
ENDS_A_TASK = {"fail_json", "exit_json"}


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def imported(module: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def called(module: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Call):
            target = node.func
            names.add(target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", ""))
    return names


@pytest.mark.parametrize("name", PURE)
def test_the_planners_and_their_rules_are_pure(name):
    module = tree(MODULE_UTILS / f"{name}.py")
    prefix = "ansible_collections.certops.aws.plugins.module_utils."
    for dependency in imported(module):
        if dependency.startswith(prefix):
            assert dependency[len(prefix) :] in PURE_SIBLINGS, f"{name}.py imports {dependency}"
        else:
            assert dependency in PURE_IMPORTS, f"{name}.py imports {dependency}"
    # No clock of their own: the time of a decision is a parameter, so a plan is reproducible.
    assert not {"now", "utcnow", "utc_now", "time", "sleep"} & called(module), f"{name}.py reads the clock"


@pytest.mark.parametrize("path", sorted(MODULE_UTILS.glob("*.py")), ids=lambda path: path.name)
def test_only_the_module_class_ends_a_task(path):
    if path.name in ("__init__.py", "module.py", "host_module.py"):
        return
    assert not ENDS_A_TASK & called(tree(path)), f"{path.name} ends a task itself"


@pytest.mark.parametrize("path", sorted(PLUGINS.glob("*/*.py")), ids=lambda path: f"{path.parent.name}/{path.name}")
def test_only_iam_and_connection_talk_to_boto3(path):
    if path.parent.name == "module_utils" and path.name in ("iam.py", "connection.py"):
        return
    sdk = {name for name in imported(tree(path)) if name.split(".")[0] in ("boto3", "botocore")}
    assert not sdk, f"{path.parent.name}/{path.name} imports {sorted(sdk)}"
