# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rotation decision: from a user's certificates and the new one, what to do, in which order.

Pure: no AWS call. The role signing_certificate_rotation reads the certificates with the info module,
asks this plan (through the certops.aws.rotation_plan filter), then carries it out with the modules.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.certops.aws.plugins.module_utils.iam import QUOTA_PER_USER

OLD_CERTIFICATE_ACTIONS = ("deactivate", "delete")


def _described(certificates: list[dict[str, Any]]) -> str:
    return ", ".join(
        f"{c['certificate_id']} ({c['status']}, expires {c.get('not_after') or 'unknown'}, {_days(c)} days left)"
        for c in certificates
    )


def _days(certificate: dict[str, Any]) -> str:
    days = certificate.get("days_to_expiry")
    return "unknown" if days is None else str(days)


def rotation_plan(
    certificates: list[dict[str, Any]],
    new_fingerprint: str,
    threshold_days: int,
    force: bool = False,
) -> dict[str, Any]:
    """Decide a rotation.

    Returns a dict:
      due: whether the new certificate should be (or already is) the user's active one;
      reason: why, in a sentence for the play's output;
      uploaded: the new certificate as IAM already has it, or None;
      make_room: IDs of inactive certificates to delete first, oldest first (never an active one);
      upload: whether the new certificate must be uploaded or activated;
      retire: the previously active certificates, to deactivate or delete once the new one is verified;
      blocked: None, or why the rotation cannot proceed without changing anything.
    """
    ordered = sorted(certificates, key=lambda c: c.get("upload_date") or "")
    uploaded = next((c for c in ordered if c.get("fingerprint_sha256") == new_fingerprint), None)
    others = [c for c in ordered if c is not uploaded]
    active = [c for c in others if c.get("status") == "Active"]
    inactive = [c for c in others if c.get("status") != "Active"]
    plan: dict[str, Any] = {
        "due": True,
        "uploaded": uploaded,
        "make_room": [],
        "upload": False,
        "retire": [c["certificate_id"] for c in active],
        "blocked": None,
    }

    if uploaded is not None and uploaded.get("status") == "Active":
        pending = f"; previously active certificates still to retire: {_described(active)}" if active else ""
        plan["reason"] = f"the new certificate is already uploaded and active as {uploaded['certificate_id']}{pending}"
        return plan

    not_due = [c for c in active if c.get("days_to_expiry") is None or c["days_to_expiry"] > threshold_days]
    if not force and not_due:
        plan.update(due=False, retire=[])
        plan["reason"] = (
            f"no rotation needed: not every active certificate expires within {threshold_days} days: "
            f"{_described(not_due)}"
        )
        return plan

    plan["upload"] = True
    if force:
        plan["reason"] = "rotation forced"
    elif active:
        plan["reason"] = f"every active certificate expires within {threshold_days} days: {_described(active)}"
    else:
        plan["reason"] = "the user has no active certificate"

    if uploaded is None:
        # The upload needs a free slot of the quota; inactive certificates count.
        needed = len(others) + 1 - QUOTA_PER_USER
        if needed > len(inactive):
            plan.update(upload=False, retire=[])
            plan["blocked"] = (
                f"cannot rotate: the user already has {len(active)} active signing certificates "
                f"({_described(active)}) and IAM allows at most {QUOTA_PER_USER} per user, inactive ones included. "
                "The rotation never deletes an active certificate: deactivate or delete one of them first"
            )
            return plan
        plan["make_room"] = [c["certificate_id"] for c in inactive[: max(needed, 0)]]
    return plan
