"""The unit fixtures (moto in process, module runner, fault injection at botocore's HTTP layer) for the
review findings."""

from tests.unit.conftest import backoff_sleeps, calls, cert, iam, inject, run  # noqa: F401
