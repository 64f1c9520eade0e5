"""Only what antsibull-nox needs to read antsibull-nox.toml: `make lint` runs its extra checks from here."""

import antsibull_nox

antsibull_nox.load_antsibull_nox_toml()
