"""What a fleet rotation's results must agree with: the certificates IAM holds afterwards, read with plain boto3
(moto in-process in unit tests, moto itself behind the emulator end to end)."""

from __future__ import annotations

from typing import Any


def holdings(iam, user_names) -> dict[str, dict[str, str]]:
    """{user: {certificate id: status}} as the server has them."""
    return {
        name: {c["CertificateId"]: c["Status"] for c in iam.list_signing_certificates(UserName=name)["Certificates"]}
        for name in user_names
    }


def assert_results_are_what_iam_holds(result: dict[str, Any], before: dict[str, dict[str, str]], iam) -> None:
    """Every entry, the task's `changed` and the diff say what was written, checked against the server."""
    after = holdings(iam, before)
    entries = [entry for entry in result["results"] if entry["user_name"] in before]
    for entry in entries:
        user, was, now = entry["user_name"], before[entry["user_name"]], after[entry["user_name"]]
        assert entry["changed"] == (now != was), (entry, was, now)
        for deleted in entry["deleted_to_make_room"]:
            assert deleted in was and deleted not in now, (entry, now)
        for retired in entry["retired"]:
            assert now.get(retired, "Inactive") == "Inactive", (entry, now)
        if entry["rotated"]:
            assert now.get(entry["new_certificate_id"]) == "Active", (entry, now)
        if entry["failed"]:
            assert entry["msg"], entry
        diff_after = result.get("diff", {}).get("after", {}).get("users", {})
        if "diff" in result:
            shown = {cid: c["status"] for cid, c in diff_after[user].items()} if user in diff_after else was
            assert shown == now, (user, shown, now)
    assert result["changed"] == any(entry["changed"] for entry in result["results"])
