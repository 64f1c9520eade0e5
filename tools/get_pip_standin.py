"""Offline stand-in for ansible-test's get-pip bootstrap script (air-gapped CI cannot download it).

ansible-test runs this as __main__ with pip-install arguments. It installs the pip bundled with Python
(ensurepip), then the requested packages with pip from the configured package index. ensurepip wipes
PIP_* variables and hides the pip configuration, so the original environment is kept for the install.
"""

import ensurepip
import os
import subprocess
import sys

GET_PIP_ONLY_FLAGS = {"--no-setuptools", "--no-wheel"}

environment = dict(os.environ)
ensurepip.bootstrap(upgrade=True)
arguments = [argument for argument in sys.argv[1:] if argument not in GET_PIP_ONLY_FLAGS]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *arguments], env=environment))
