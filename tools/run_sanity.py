"""`make sanity`: ansible-test on a copy of the checkout in a real ansible_collections tree, offline.

    run_sanity.py sanity [ansible-test options]   # ansible-test sanity --python 3.11
    run_sanity.py units [ansible-test options]    # ansible-test units --venv --python 3.11

ansible-test needs its working directory inside .../ansible_collections/certops/aws (not a symlink), and
bootstraps pip in its venvs with a script it downloads; an offline stand-in is put in its cache first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = {"sanity": ["--python", "3.11"], "units": ["--venv", "--python", "3.11"]}
PIP_VERSION = "24.2"  # the pip ansible-test 2.19 pins; its cache file name follows it


def checkout_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def main() -> int:
    cache = Path.home() / ".ansible" / "test" / "cache" / f"get_pip_{PIP_VERSION.replace('.', '_')}.py"
    cache.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "tests" / "sanity" / "get_pip_standin.py", cache)

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
        test, *options = sys.argv[1:] or ["sanity"]
        if test not in COMMANDS:
            sys.exit(f"usage: run_sanity.py {{{'|'.join(COMMANDS)}}} [ansible-test options]")
        command = [str(ansible_test), test, *COMMANDS[test], "--color", "no", *options]
        print("+", " ".join(command), flush=True)
        return subprocess.call(command, cwd=collection, env={**os.environ, "ANSIBLE_TEST_PREFER_VENV": "1"})


if __name__ == "__main__":
    sys.exit(main())
