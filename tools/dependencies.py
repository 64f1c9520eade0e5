"""The collections certops.aws depends on (galaxy.yml), provided without Galaxy.

community.crypto comes from the `ansible` package on the package index, which bundles it: the wheel pinned with
its hash in requirements-collections.txt is downloaded with pip (never installed) and its
ansible_collections/community/crypto/ folder extracted into DIR/ansible_collections/. DIR can then go on
ANSIBLE_COLLECTIONS_PATH, or be where `ansible-galaxy collection install` puts certops.aws, which then finds its
dependency already installed and does not ask Galaxy.

    python -m tools.dependencies DIR     # idempotent: does nothing when DIR already holds the pinned versions
    python -m tools.dependencies --tarballs DIR     # DIR/community-crypto-3.0.5.tar.gz, for an execution environment

A tarball is what `ansible-galaxy collection install` takes where no collections path can be prepared beforehand (an
execution environment's build). The wheel leaves out the collection's tests and CI files, which its FILES.json still
lists, so the tarball gets a FILES.json of the files it holds (their checksums as recorded) and a MANIFEST.json with
that FILES.json's checksum, as `ansible-galaxy collection install` does for a collection directory.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
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


def tarball_name(name: str) -> str:
    return f"{name.replace('.', '-')}-{BUNDLED[name]}.tar.gz"


def _add_json(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    member = tarfile.TarInfo(name)
    member.size, member.mode = len(data), 0o644
    archive.addfile(member, io.BytesIO(data))


def _write_tarball(collection: Path, target: Path) -> None:
    manifest = json.loads((collection / "MANIFEST.json").read_text())
    files = json.loads((collection / "FILES.json").read_text())
    files["files"] = [entry for entry in files["files"] if (collection / entry["name"]).exists()]
    files_json = json.dumps(files, indent=4).encode()
    manifest["file_manifest_file"]["chksum_sha256"] = hashlib.sha256(files_json).hexdigest()
    partial = target.with_name(target.name + ".partial")
    with tarfile.open(partial, "w:gz") as archive:
        _add_json(archive, "MANIFEST.json", json.dumps(manifest, indent=4).encode())
        _add_json(archive, "FILES.json", files_json)
        for entry in files["files"]:
            if entry["name"] != ".":
                archive.add(collection / entry["name"], arcname=entry["name"], recursive=False)
    partial.replace(target)


def write_tarballs(destination: Path, root: Path) -> list[Path]:
    """DIR/<namespace>-<name>-<version>.tar.gz of every collection of BUNDLED, taken from root (see ensure)."""
    ensure(root)
    destination.mkdir(parents=True, exist_ok=True)
    written = []
    for name in BUNDLED:
        target = destination / tarball_name(name)
        _write_tarball(root.resolve() / "ansible_collections" / Path(*name.split(".")), target)
        written.append(target)
    return written


def main() -> int:
    arguments = sys.argv[1:]
    if arguments[:1] == ["--tarballs"] and len(arguments) == 2:
        with tempfile.TemporaryDirectory(prefix="certops-deps-") as tmp:
            for tarball in write_tarballs(Path(arguments[1]), Path(tmp)):
                print(tarball)
        return 0
    if len(arguments) != 1 or arguments[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    root = ensure(Path(arguments[0]))
    for name, version in BUNDLED.items():
        print(f"{name} {version} in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
