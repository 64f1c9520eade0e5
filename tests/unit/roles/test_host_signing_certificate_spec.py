"""The role host_signing_certificate documents each option where its default lives.

The defaults are in plugins/module_utils/host_options.py only (an option set to null, false or "" takes its default
there, design rule 8), so the argument spec carries no `default:` (Ansible's validation would refuse null for an int
or bool option that has one) and states each default in its description instead. These tests keep the two in step.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ansible_collections.certops.aws.plugins.module_utils.host_options import DEFAULTS

ROLE = Path(__file__).resolve().parents[3] / "roles" / "host_signing_certificate"
PREFIX = "host_signing_certificate_"


def load(relative: str):
    return yaml.safe_load((ROLE / relative).read_text())


def test_every_option_has_a_default_and_every_default_an_option():
    options = load("meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    defaults = DEFAULTS
    assert sorted(options) == sorted(PREFIX + name for name in defaults)


def test_the_documented_default_is_the_one_used():
    options = load("meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    defaults = DEFAULTS
    for name, default in defaults.items():
        spec = options[PREFIX + name]
        assert "default" not in spec, f"{name}: a default in the argument spec would refuse null"
        text = " ".join(spec["description"])
        if name == "user_name":
            assert spec.get("required") is True
            continue
        if default is None:
            assert re.search(r"Default (-|C\()", text), f"{name}: the description does not say what happens by default"
            continue
        documented = re.search(r"Default V\(([^)]*)\)", text)
        assert documented, f"{name}: the description does not state the default {default!r}"
        expected = str(default).lower() if isinstance(default, bool) else str(default)
        assert documented.group(1) == expected, name
        assert "choices" not in spec, f"{name}: choices in the argument spec would refuse false"
