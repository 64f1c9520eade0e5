"""Every playbook and task example of README.md, the guides and the modules' EXAMPLES runs unchanged: first
under --check --diff (which writes nothing), then for real, against the moto server, with the users and the
certificate files it names.

A YAML block that is a list of plays runs as it is; a list of tasks runs in a play on localhost. A block that is
a mapping (a vars file such as rotations.yml, an inventory) is data, not an example to run. A play for other
hosts than localhost (the signing hosts of host_rotation.md) runs against an inventory with one local host per
group it names, which signs for alice from a directory of its own. The endpoint comes from AWS_URL,
as it would for a user of `make emulator`, and `iam_endpoint_url` is given for the examples that name it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from tests.e2e.helpers import REPO, Ansible
from tools.certs import make_certificate

pytestmark = pytest.mark.e2e

USERS = ("alice", "bob", "carol")
FILE_LOOKUP = re.compile(r"lookup\('ansible\.builtin\.file', '([^']+)'\)")
YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.M | re.S)
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs" / "guides").glob("*.md"))]
MODULES = sorted((REPO / "plugins" / "modules").glob("*.py"))


def markdown_examples(path: Path) -> list[tuple[str, str]]:
    return [
        (f"{path.relative_to(REPO)}#{number}", text)
        for number, text in enumerate(YAML_BLOCK.findall(path.read_text()), 1)
    ]


def module_examples(path: Path) -> list[tuple[str, str]]:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "EXAMPLES":
            return [(f"{path.relative_to(REPO)}:EXAMPLES", node.value.value)]
    return []


EXAMPLES = [example for path in DOCUMENTS for example in markdown_examples(path)]
EXAMPLES += [example for path in MODULES for example in module_examples(path)]


def as_playbook(text: str) -> str | None:
    """The example as a playbook; None for a data block."""
    loaded = yaml.safe_load(text)
    if isinstance(loaded, dict):
        return None
    assert isinstance(loaded, list) and loaded, text
    if all("hosts" in entry for entry in loaded):
        return text
    play = [{"name": "Example", "hosts": "localhost", "gather_facts": False, "tasks": loaded}]
    return yaml.safe_dump(play, sort_keys=False)


def inventory_for(playbook: str, workdir: Path) -> tuple[str, ...]:
    """Command-line options giving the play's host groups (other than localhost) one local host each."""
    groups = {play["hosts"] for play in yaml.safe_load(playbook)} - {"localhost"}
    if not groups:
        return ()
    inventory = {
        group: {
            "hosts": {
                f"{group}-host": {
                    "ansible_connection": "local",
                    "host_signing_certificate_user_name": "alice",
                    "host_signing_certificate_dir": str(workdir / "hosts" / group),
                }
            }
        }
        for group in sorted(groups)
    }
    path = workdir / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    return ("-i", str(path))


def server_state(iam) -> dict[str, list[tuple[str, str]]]:
    return {
        user: sorted(
            (c["CertificateId"], c["Status"]) for c in iam.list_signing_certificates(UserName=user)["Certificates"]
        )
        for user in USERS
    }


def test_the_examples_were_found():
    names = [name for name, _text in EXAMPLES]
    assert any(name.startswith("README.md") for name in names)
    assert any(name.startswith("docs/guides/getting_started.md") for name in names)
    assert len([name for name in names if name.endswith(":EXAMPLES")]) == len(MODULES)


@pytest.mark.parametrize(("name", "text"), EXAMPLES, ids=[name for name, _text in EXAMPLES])
def test_example_runs_unchanged_in_check_mode_then_for_real(ansible: Ansible, iam, iam_endpoint, name, text):
    playbook = as_playbook(text)
    if playbook is None:
        pytest.skip(f"{name} is data (a vars file or an inventory), not an example to run")
    for user in USERS:
        iam.create_user(UserName=user)
    for path in sorted(set(FILE_LOOKUP.findall(text))):
        target = ansible.workdir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(make_certificate(Path(path).stem))
    extra = {"iam_endpoint_url": iam_endpoint}
    inventory = inventory_for(playbook, ansible.workdir)

    before = server_state(iam)
    preview = ansible.playbook(playbook, extra, check=True, diff=True, aws_url=True, options=inventory)
    assert preview.rc == 0, f"{name} fails under --check --diff:\n{preview.output}"
    assert server_state(iam) == before, f"{name} wrote to the server in check mode"

    real = ansible.playbook(playbook, extra, aws_url=True, options=inventory)
    assert real.rc == 0, f"{name} fails for real:\n{real.output}"
    if inventory:
        # Each signing host holds a pair now, and its certificate is one of alice's active ones.
        active = {c["CertificateBody"].strip() for c in iam.list_signing_certificates(UserName="alice")["Certificates"]}
        for directory in (ansible.workdir / "hosts").iterdir():
            assert (directory / "signing.pem").read_text().strip() in active, directory
