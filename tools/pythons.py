"""Find the Python interpreters the project runs on, and pick the one `make test` and `make demo` use.

    python3 tools/pythons.py            # prints the path of the default Python (the Makefile's PYTHON)
    python3 tools/pythons.py --series   # prints the ansible-core series for the Python running it

The default is the newest Python for which the version matrix runs the newest ansible-core (2.21 needs 3.12 or
later): 3.13, then 3.12; without either, 3.11 with ansible-core 2.19, the last series that runs there. pyenv's
interpreters ($(pyenv root)/versions/X.Y.Z/bin/python) come first, then pythonX.Y on PATH. A pyenv shim on PATH
that fails to run (it does unless PYENV_VERSION is set) is skipped.

Standard library only, and Python 3.6-compatible syntax: any python3 on the machine must be able to run it.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# Controller Python -> the ansible-core series `make test` installs there (requirements/ansible-core-<series>.txt).
DEFAULT_SERIES = {"3.13": "2.21", "3.12": "2.21", "3.11": "2.19"}
PREFERENCE = ["3.13", "3.12", "3.11"]


def _pyenv_root():
    root = os.environ.get("PYENV_ROOT")
    if root:
        return Path(root)
    if shutil.which("pyenv"):
        done = subprocess.run(["pyenv", "root"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
        if done.returncode == 0 and done.stdout.strip():
            return Path(done.stdout.decode().strip())
    return Path.home() / ".pyenv"


def _runs(python, version):
    """Whether this interpreter starts and is Python `version` (X.Y)."""
    try:
        done = subprocess.run(
            [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.decode().strip() == version


def _release(path):
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.parent.name))


def find_python(version):
    """The path of a working Python `version` (X.Y), or None: the newest pyenv X.Y.Z first, then pythonX.Y."""
    versions = _pyenv_root() / "versions"
    candidates = (
        sorted(versions.glob(version + ".*/bin/python"), key=_release, reverse=True) if versions.is_dir() else []
    )
    candidates = [path for path in candidates if re.fullmatch(re.escape(version) + r"\.\d+", path.parent.parent.name)]
    on_path = shutil.which("python" + version)
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if _runs(candidate, version):
            return str(candidate)
    return None


def default_python():
    for version in PREFERENCE:
        found = find_python(version)
        if found:
            return found
    return None


def main():
    if sys.argv[1:] == ["--series"]:
        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        series = DEFAULT_SERIES.get(version)
        if series is None:
            sys.exit(
                f"Python {version} is not a controller Python this project tests ({', '.join(PREFERENCE)}); "
                "run make with PYTHON=/path/to/python3.13, 3.12 or 3.11"
            )
        print(series)
        return 0
    if sys.argv[1:]:
        sys.exit("usage: pythons.py [--series]")
    found = default_python()
    if found is None:
        sys.exit("found no Python 3.13, 3.12 or 3.11 (neither under $(pyenv root)/versions nor on PATH)")
    print(found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
