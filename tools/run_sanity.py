"""`make sanity`: ansible-test on a copy of the checkout in a real ansible_collections tree, offline.

    run_sanity.py sanity [ansible-test options]   # ansible-test sanity --python X.Y
    run_sanity.py units [ansible-test options]    # ansible-test units --venv --python X.Y

X.Y is the Python running this script (the venv's), so every ansible-core series runs on a Python it supports.
ansible-test needs its working directory inside .../ansible_collections/certops/aws (not a symlink), and
bootstraps pip in its venvs with a get-pip script it downloads; an offline stand-in is put in its cache first.

ansible-test keeps that cache and its venvs under $HOME/.ansible/test: it runs here with a private HOME
(<venv>/ansible-test-home, kept between runs so a second run is warm), never the user's. The user's pip
configuration (~/.config/pip/pip.conf, which names the package index) is copied into it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools.harness import checkout_files

ROOT = Path(__file__).resolve().parents[1]
PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
COMMANDS = {"sanity": ["--python", PYTHON_VERSION], "units": ["--venv", "--python", PYTHON_VERSION]}
PIP_CONFIG = Path(".config") / "pip" / "pip.conf"


def pinned_pip_versions() -> list[str]:
    """The pip versions this ansible-test bootstraps (ansible_test/_internal/python_requirements.py pins them, and
    the get-pip cache file is named after them: 24.2 -> get_pip_24_2.py). They differ between ansible-core series."""
    import ansible_test

    source = Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
    versions = sorted(set(re.findall(r"""\bpip=['"]([0-9][0-9.]*)['"]""", source.read_text())))
    if not versions:
        sys.exit(f"found no pinned pip version in {source}: this ansible-test bootstraps pip differently")
    return versions


def private_home() -> Path:
    """$HOME for ansible-test: inside the venv, with the user's pip configuration (the package index) copied in."""
    home = Path(sys.prefix) / "ansible-test-home"
    user_config = Path.home() / PIP_CONFIG
    if user_config.is_file():
        (home / PIP_CONFIG).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(user_config, home / PIP_CONFIG)
    cache = home / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    for version in pinned_pip_versions():
        shutil.copyfile(ROOT / "tools" / "get_pip_standin.py", cache / f"get_pip_{version.replace('.', '_')}.py")
    return home


def main() -> int:
    test, *options = sys.argv[1:] or ["sanity"]
    if test not in COMMANDS:
        sys.exit(f"usage: run_sanity.py {{{'|'.join(COMMANDS)}}} [ansible-test options]")
    home = private_home()
    with tempfile.TemporaryDirectory(prefix="certops-sanity-") as tree:
        collection = Path(tree) / "ansible_collections" / "certops" / "aws"
        for name in checkout_files():
            target = collection / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target)
        # ansible-test lists files with git when it finds a repository; give it one.
        subprocess.run(["git", "init", "-q"], cwd=collection, check=True)
        subprocess.run(["git", "add", "-A"], cwd=collection, check=True)
        ansible_test = Path(sys.executable).parent / "ansible-test"
        command = [str(ansible_test), test, *COMMANDS[test], "--color", "no", *options]
        print("+", " ".join(command), f"(HOME={home})", flush=True)
        env = {**os.environ, "HOME": str(home), "ANSIBLE_TEST_PREFER_VENV": "1"}
        return subprocess.call(command, cwd=collection, env=env)


if __name__ == "__main__":
    sys.exit(main())
