# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side filters: parse a PEM certificate, plan a rotation. No AWS call.

Documented in x509_certificate_info.yml and rotation_plan.yml beside this file.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.certops.aws.plugins.module_utils.certificate import (
    Certificate,
    CertificateError,
    load_certificate,
    parse_iso8601,
    utc_now,
)
from ansible_collections.certops.aws.plugins.module_utils.rotation import rotation_plan


def x509_certificate_info(body):
    """The parsed fields of a PEM certificate."""
    try:
        return load_certificate(body).fields(utc_now())
    except CertificateError as exc:
        raise AnsibleFilterError(f"x509_certificate_info: the certificate {exc}") from None


def _new_certificate(new):
    """The new certificate, from its PEM text or from what x509_certificate_info returned for it."""
    if isinstance(new, Mapping):
        try:
            return Certificate(
                pem="",
                fingerprint_sha256=str(new["fingerprint_sha256"]),
                subject=str(new.get("subject", "")),
                issuer=str(new.get("issuer", "")),
                serial_number=int(new.get("serial_number") or 0),
                not_before=parse_iso8601(new["not_before"]),
                not_after=parse_iso8601(new["not_after"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AnsibleFilterError(
                f"rotation_plan: the new certificate's fields are incomplete or malformed ({exc!r}); "
                "give the result of certops.aws.x509_certificate_info, or the PEM text"
            ) from None
    if isinstance(new, str) and "-----BEGIN" in new:
        try:
            return load_certificate(new)
        except CertificateError as exc:
            raise AnsibleFilterError(f"rotation_plan: the new certificate {exc}") from None
    raise AnsibleFilterError(
        "rotation_plan: give the new certificate as its PEM text or as the result of "
        "certops.aws.x509_certificate_info (a fingerprint alone does not tell whether it is valid)"
    )


def _rotation_plan(certificates, new_certificate, threshold_days=30, force=False):
    new = _new_certificate(new_certificate)
    try:
        plan = rotation_plan(list(certificates), new, int(threshold_days), utc_now(), boolean(force))
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"rotation_plan: {exc}") from None
    return plan.as_dict()


class FilterModule:
    def filters(self):
        return {"x509_certificate_info": x509_certificate_info, "rotation_plan": _rotation_plan}
