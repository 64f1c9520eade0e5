"""Make the checkout importable as ansible_collections.certops.aws wherever it is cloned.

pytest loads this file before any test module. When the collection already imports from this checkout (as
under ansible-test), nothing is done. If the checkout lies at
.../ansible_collections/certops/aws, its grandparent's parent goes on sys.path; otherwise a temporary
ansible_collections/certops/aws symlink to the checkout is made and removed at exit.
"""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from tools.harness import DUMMY_AWS_ENVIRONMENT, guard_loopback

ROOT = Path(__file__).resolve().parents[1]


def _imports_this_checkout() -> bool:
    """Whether ansible_collections.certops.aws already imports from this checkout (e.g. under ansible-test)."""
    try:
        module = importlib.import_module("ansible_collections.certops.aws.plugins.module_utils.certificate")
    except ImportError:
        return False
    return Path(module.__file__).resolve().is_relative_to(ROOT)


def _collections_root() -> Path:
    if ROOT.parent.name == "certops" and ROOT.parent.parent.name == "ansible_collections" and ROOT.name == "aws":
        return ROOT.parent.parent.parent
    tree = Path(tempfile.mkdtemp(prefix="certops-collections-"))
    atexit.register(shutil.rmtree, tree, ignore_errors=True)
    (tree / "ansible_collections" / "certops").mkdir(parents=True)
    (tree / "ansible_collections" / "certops" / "aws").symlink_to(ROOT)
    return tree


if not _imports_this_checkout():
    COLLECTIONS_ROOT = _collections_root()
    sys.path.insert(0, str(COLLECTIONS_ROOT))
    for name in [m for m in sys.modules if m == "ansible_collections" or m.startswith("ansible_collections.")]:
        del sys.modules[name]
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = str(COLLECTIONS_ROOT)

# Dummy credentials only; never read the user's ~/.aws or reach a real endpoint by accident.
for variable in (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_URL",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_IAM",
    "AWS_CA_BUNDLE",
):
    os.environ.pop(variable, None)
os.environ.update(DUMMY_AWS_ENVIRONMENT)


# Tests talk to loopback only: any connection or name lookup that would leave the machine fails loudly.
guard_loopback("a test")
