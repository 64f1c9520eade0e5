"""ansible-doc renders every module from the installed build, and the documentation matches the code:
every option of the argument spec (connection options from the doc fragment included) and every key
a real run returns is documented, and nothing documented is missing from the code or the results.
"""

from __future__ import annotations

import importlib
import json
import subprocess
from typing import Any
from unittest import mock

import pytest
import yaml
from ansible.module_utils.basic import AnsibleModule

from tests.e2e.helpers import REPO, Ansible, run_tool, upload

pytestmark = pytest.mark.e2e

MODULES = ("iam_signing_certificate", "iam_signing_certificate_info", "iam_signing_certificate_rotation")
# The modules of the role host_signing_certificate on the hosts, and its decision (an action on the controller: its
# documentation is a module's, its code an action plugin's).
HOST_MODULES = ("host_signing_certificate_info", "host_signing_certificate_step")
ACTIONS = ("host_signing_certificate_plan",)
EVERY_MODULE = (*MODULES, *HOST_MODULES, *ACTIONS)
# Keys Ansible itself adds to every result.
ANSIBLE_KEYS = {"changed", "invocation", "failed", "diff", "warnings", "deprecations", "_ansible_no_log"}


def ansible_doc(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_tool(env, "ansible-doc", *args)


@pytest.fixture(scope="module")
def docs(ansible_env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """`ansible-doc --json` of both modules: {module name: {"doc": ..., "return": ..., "examples": ...}}."""
    completed = ansible_doc(ansible_env, "--json", *(f"certops.aws.{name}" for name in EVERY_MODULE))
    assert completed.returncode == 0, completed.stderr
    assert "[ERROR]" not in completed.stderr and "[WARNING]" not in completed.stderr, completed.stderr
    loaded = json.loads(completed.stdout)
    return {name: loaded[f"certops.aws.{name}"] for name in EVERY_MODULE}


class _Captured(Exception):
    pass


def argument_spec(name: str) -> dict[str, dict[str, Any]]:
    """The argument spec a module really builds (connection options included), captured from its main()."""
    module = importlib.import_module(f"ansible_collections.certops.aws.plugins.modules.{name}")

    def capture(_self: AnsibleModule, argument_spec: dict[str, Any], **_kwargs: Any) -> None:
        raise _Captured(argument_spec)

    with mock.patch.object(AnsibleModule, "__init__", capture), pytest.raises(_Captured) as captured:
        module.main()
    return captured.value.args[0]


@pytest.mark.parametrize("name", EVERY_MODULE)
def test_ansible_doc_renders(ansible_env, docs, name):
    completed = ansible_doc(ansible_env, f"certops.aws.{name}")

    assert completed.returncode == 0, completed.stderr
    assert "[ERROR]" not in completed.stderr and "[WARNING]" not in completed.stderr, completed.stderr
    text = completed.stdout
    assert text.startswith(f"> MODULE certops.aws.{name}")
    for section in ("OPTIONS", "ATTRIBUTES", "REQUIREMENTS", "EXAMPLES:", "RETURN VALUES:"):
        assert section in text, section
    for option in docs[name]["doc"]["options"]:
        assert f"- {option}" in text or f"= {option}" in text, option  # "=": a required option
    for key in docs[name]["return"]:
        assert f"- {key}" in text, key


def test_ansible_doc_lists_every_module(ansible_env):
    completed = ansible_doc(ansible_env, "--list", "certops.aws", "--type", "module")

    assert completed.returncode == 0, completed.stderr
    listed = {line.split()[0] for line in completed.stdout.splitlines() if line.strip()}
    assert listed == {f"certops.aws.{name}" for name in EVERY_MODULE}


@pytest.mark.parametrize("name", (*MODULES, *HOST_MODULES))
def test_every_option_is_documented_as_coded(docs, name):
    spec = argument_spec(name)
    documented = docs[name]["doc"]["options"]

    assert sorted(documented) == sorted(spec)
    for option, coded in spec.items():
        doc = documented[option]
        assert doc.get("description"), f"{option} has no description"
        assert doc.get("type", "str") == coded.get("type", "str"), option
        assert sorted(doc.get("aliases", [])) == sorted(coded.get("aliases", [])), option
        assert doc.get("choices") == coded.get("choices"), option
        assert doc.get("default") == coded.get("default"), option
        assert bool(doc.get("required")) == bool(coded.get("required")), option


def _certificate_keys(docs: dict[str, dict[str, Any]], name: str) -> set[str]:
    returned = docs[name]["return"]
    documented = returned["certificate"] if name == "iam_signing_certificate" else returned["certificates"]
    return set(documented["contains"])


def documented_on(returned: dict[str, Any], outcome: str) -> set[str]:
    """The documented keys a result has on success or on failure."""
    return {key for key, doc in returned.items() if doc.get("returned") == "always" or outcome in doc.get("returned")}


def test_every_returned_key_is_documented(ansible: Ansible, docs, iam, user, pem_file):
    _path, kept_pem = pem_file("already-there")
    upload(iam, kept_pem, status="Inactive")
    _path, pem = pem_file("documented")
    _path, newer = pem_file("newer")

    uploaded = ansible.adhoc("certops.aws.iam_signing_certificate", {"user_name": user, "certificate_body": pem})
    info = ansible.adhoc("certops.aws.iam_signing_certificate_info", {"user_name": user})
    refused = ansible.adhoc("certops.aws.iam_signing_certificate", {"user_name": user, "certificate_body": newer})
    rotated = ansible.adhoc(
        "certops.aws.iam_signing_certificate_rotation",
        {"users": [{"user_name": user, "new_certificate": newer}], "force": True, "verify_delay": 0},
    )

    assert uploaded.status == "CHANGED", uploaded.output
    assert info.status == "SUCCESS", info.output
    assert refused.status == "FAILED!" and refused.result["error_code"] == "LimitExceeded", refused.output
    assert rotated.status == "CHANGED", rotated.output
    manage_return = docs["iam_signing_certificate"]["return"]
    info_return = docs["iam_signing_certificate_info"]["return"]
    rotation_return = docs["iam_signing_certificate_rotation"]["return"]
    assert set(uploaded.result) - ANSIBLE_KEYS == documented_on(manage_return, "success")
    assert set(info.result) - ANSIBLE_KEYS == documented_on(info_return, "success")
    assert set(refused.result) - ANSIBLE_KEYS - {"msg", "exception"} == documented_on(manage_return, "failure")
    assert set(rotated.result) - ANSIBLE_KEYS == documented_on(rotation_return, "success")
    (entry,) = rotated.result["results"]
    assert set(entry) == set(rotation_return["results"]["contains"])

    certificate_keys = _certificate_keys(docs, "iam_signing_certificate")
    # Documented as returned only when the task was not given the body (here it was).
    assert set(uploaded.result["certificate"]) == certificate_keys - {"certificate_body"}
    # The module documents `certificates` elements as having the keys of `certificate` but the body.
    assert len(uploaded.result["certificates"]) == 2
    assert all(set(element) == certificate_keys - {"certificate_body"} for element in uploaded.result["certificates"])
    assert len(info.result["certificates"]) == 2
    assert all(
        set(element) == _certificate_keys(docs, "iam_signing_certificate_info")
        for element in info.result["certificates"]
    )


def test_ansible_sees_only_the_installed_build(ansible_env, collections_path):
    completed = run_tool(ansible_env, "ansible-galaxy", "collection", "list", "certops.aws", "--format", "json")

    assert completed.returncode == 0, completed.stderr
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    assert json.loads(completed.stdout) == {
        str(collections_path / "ansible_collections"): {"certops.aws": {"version": version}}
    }


def test_the_built_collection_holds_what_a_user_needs_and_little_else(collections_path):
    """ansible-galaxy collection build: under 170 kB (154 kB with the AWX examples and guide), without the
    benchmarks, charts or test harness."""
    import tarfile

    (tarball,) = collections_path.parent.glob("certops-aws-*.tar.gz")
    assert tarball.stat().st_size < 170_000, f"{tarball.name} is {tarball.stat().st_size} bytes"
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    for needed in (
        "plugins/modules/iam_signing_certificate.py",
        "plugins/modules/iam_signing_certificate_rotation.py",
        "roles/signing_certificate_rotation/tasks/main.yml",
        "roles/host_signing_certificate/tasks/rotate.yml",
        "plugins/action/host_signing_certificate_plan.py",
        "plugins/modules/host_signing_certificate_step.py",
        "docs/guides/host_rotation.md",
        "playbooks/rotate_signing_certificates.yml",
        "playbooks/audit_expiring_certificates.yml",
        "docs/guides/getting_started.md",
        "docs/examples/inventory.yml",
        "tests/integration/targets/iam_signing_certificate/tasks/main.yml",
        "requirements.txt",
        "meta/runtime.yml",
    ):
        assert needed in names, needed
    # Galaxy's importer refuses a collection with a role that has no README.md ("No role readme found").
    roles = sorted(path.name for path in (REPO / "roles").iterdir() if path.is_dir())
    assert roles and [role for role in roles if f"roles/{role}/README.md" not in names] == []
    unwanted = [
        name for name in names if name.startswith(("tests/benchmarks", "tests/e2e", "docs/performance", "tools"))
    ]
    assert unwanted == []


def test_every_key_the_host_roles_modules_return_is_documented(fleet, docs):
    # One host provisioned, then a run with nothing to do: every result of the look, the decision and the steps.
    fleet.add("host-a")
    runs = [fleet.run(), fleet.run()]
    assert all(run.rc == 0 for run in runs), runs[0].output
    seen = {name: [] for name in (*HOST_MODULES, *ACTIONS)}
    for run in runs:
        for entry in run.tasks:
            action = entry.get("action", "").rsplit(".", 1)[-1]
            if action in seen and entry["status"] != "skipped":
                seen[action].append(entry["result"])
    assert all(seen.values()), {name: len(results) for name, results in seen.items()}
    for name, results in seen.items():
        returned = docs[name]["return"]
        for result in results:
            assert set(result) - ANSIBLE_KEYS - {"msg"} <= set(returned), (name, sorted(result))
            assert documented_on(returned, "success") - {"msg"} <= set(result), (name, sorted(result))
