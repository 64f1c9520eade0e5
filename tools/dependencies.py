"""The collections certops.aws depends on (galaxy.yml), provided without Galaxy.

community.crypto comes from the `ansible` package on the package index, which bundles it: the wheel pinned with
its hash in requirements-collections.txt is downloaded with pip (never installed) and its
ansible_collections/community/crypto/ folder extracted into DIR/ansible_collections/. DIR can then go on
ANSIBLE_COLLECTIONS_PATH, or be where `ansible-galaxy collection install` puts certops.aws, which then finds its
dependency already installed and does not ask Galaxy.

    python -m tools.dependencies DIR     # idempotent: does nothing when DIR already holds the pinned versions
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO / "requirements-collections.txt"
# What the pinned wheel bundles, and what galaxy.yml's dependencies are tested with.
BUNDLED = {"community.crypto": "3.0.5"}


def installed_version(root: Path, name: str) -> str | None:
    manifest = root / "ansible_collections" / Path(*name.split(".")) / "MANIFEST.json"
    try:
        return json.loads(manifest.read_text())["collection_info"]["version"]
    except (OSError, ValueError, KeyError):
        return None


def _download(into: Path) -> Path:
    argv = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps"]
    argv += ["--only-binary", ":all:", "--require-hashes", "-r", str(REQUIREMENTS), "-d", str(into)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pip could not download the pinned ansible wheel:\n{done.stdout}{done.stderr}")
    (wheel,) = into.glob("ansible-*.whl")
    return wheel


def ensure(root: Path) -> Path:
    """DIR/ansible_collections/ with every collection of BUNDLED at its pinned version; returns DIR."""
    root = root.resolve()
    missing = [name for name, version in BUNDLED.items() if installed_version(root, name) != version]
    if not missing:
        return root
    with tempfile.TemporaryDirectory(prefix="certops-deps-") as tmp:
        wheel = _download(Path(tmp))
        staging = Path(tmp) / "extracted"
        with zipfile.ZipFile(wheel) as archive:
            for name in missing:
                prefix = "ansible_collections/" + name.replace(".", "/") + "/"
                members = [m for m in archive.namelist() if m.startswith(prefix)]
                if not members:
                    raise RuntimeError(f"{wheel.name} does not bundle {name}")
                archive.extractall(staging, members)
        for name in missing:
            relative = Path("ansible_collections", *name.split("."))
            found = installed_version(staging, name)
            if found != BUNDLED[name]:
                raise RuntimeError(f"{wheel.name} bundles {name} {found}, not {BUNDLED[name]}")
            target = root / relative
            shutil.rmtree(target, ignore_errors=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(staging / relative), str(target))
    return root


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = ensure(Path(sys.argv[1]))
    for name, version in BUNDLED.items():
        print(f"{name} {version} in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
