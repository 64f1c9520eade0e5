"""A module's real main(), in a fresh process, with the time and peak RSS at each step.

Started by tests/benchmarks/profiling.py as `python -m tests.benchmarks.phases ARM USER_NAME` (ARM: collection or
floor), or `... phases first-call paginator|direct USER_NAME`; prints JSON. Only the standard library is imported
before the clock starts, so "imports" is the module's own. Steps are marked by wrapping the library calls both
modules make (AnsibleModule.__init__, botocore's create_client and _make_api_call, exit_json), so main() runs
unchanged.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

MODULES = {
    "collection": "ansible_collections.certops.aws.plugins.modules.iam_signing_certificate_info",
    "floor": str(Path(__file__).resolve().parent / "library" / "floor_signing_certificates.py"),
}


class Marks:
    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = [{"step": "interpreter start-up", "ms": None, "peak_rss_kb": self._kb()}]
        self._clock = time.perf_counter()

    @staticmethod
    def _kb() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        if self.steps[-1]["step"] == name:  # e.g. one step per page: merge
            self.steps[-1]["ms"] += (now - self._clock) * 1000
            self.steps[-1]["peak_rss_kb"] = self._kb()
        else:
            self.steps.append({"step": name, "ms": (now - self._clock) * 1000, "peak_rss_kb": self._kb()})
        self._clock = now


def _import(arm: str) -> Any:
    if arm == "collection":
        return importlib.import_module(MODULES[arm])
    spec = importlib.util.spec_from_file_location("floor_signing_certificates", MODULES[arm])
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _after(owner: Any, attribute: str, mark: Marks, name: str) -> None:
    """Mark `name` each time owner.attribute returns."""
    original = getattr(owner, attribute)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        value = original(*args, **kwargs)
        mark(name)
        return value

    setattr(owner, attribute, wrapped)


def run(arm: str, user_name: str) -> dict[str, Any]:
    mark = Marks()
    module = _import(arm)
    mark("imports")

    import botocore.client
    import botocore.session
    from ansible.module_utils import basic
    from ansible.module_utils.testing import patch_module_args

    _after(basic.AnsibleModule, "__init__", mark, "AnsibleModule() with the argument spec")
    _after(botocore.session.Session, "create_client", mark, "boto3 client")
    _after(botocore.client.BaseClient, "_make_api_call", mark, "ListSigningCertificates call")
    real_exit_json = basic.AnsibleModule.exit_json

    def exit_json(self: Any, **kwargs: Any) -> None:
        mark("result (parsing, filters)")
        real_exit_json(self, **kwargs)

    basic.AnsibleModule.exit_json = exit_json  # type: ignore[method-assign]
    output = io.StringIO()
    with patch_module_args({"user_name": user_name}), contextlib.redirect_stdout(output):
        try:
            module.main()
        except SystemExit:
            pass
    mark("exit_json (JSON out)")
    result = json.loads(output.getvalue())
    if result.get("failed"):
        raise RuntimeError(result.get("msg"))
    return {"arm": arm, "steps": mark.steps, "certificates": len(result["certificates"])}


def first_call(mode: str, user_name: str) -> dict[str, Any]:
    """The first and second listing of a fresh client, through a paginator (as the collection) or directly."""
    import boto3

    client = boto3.session.Session().client("iam", region_name="us-east-1")
    times = []
    for _call in range(2):
        started = time.perf_counter()
        if mode == "paginator":
            pages = client.get_paginator("list_signing_certificates").paginate(UserName=user_name)
            certificates = [cert for page in pages for cert in page["Certificates"]]
        else:
            certificates = client.list_signing_certificates(UserName=user_name)["Certificates"]
        times.append((time.perf_counter() - started) * 1000)
    return {"mode": mode, "first_ms": times[0], "second_ms": times[1], "certificates": len(certificates)}


if __name__ == "__main__":
    if sys.argv[1] == "first-call":
        json.dump(first_call(sys.argv[2], sys.argv[3]), sys.stdout)
    else:
        json.dump(run(sys.argv[1], sys.argv[2]), sys.stdout)
