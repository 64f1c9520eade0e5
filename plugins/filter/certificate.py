# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side filters: parse a PEM certificate, plan a rotation. No AWS call.

Documented in x509_certificate_info.yml and rotation_plan.yml beside this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.certops.aws.plugins.module_utils.certificate import CertificateError, load_certificate
from ansible_collections.certops.aws.plugins.module_utils.rotation import rotation_plan


def x509_certificate_info(body):
    """The parsed fields of a PEM certificate."""
    try:
        return load_certificate(body).fields()
    except CertificateError as exc:
        raise AnsibleFilterError(f"x509_certificate_info: the certificate {exc}") from None


def _rotation_plan(certificates, new_fingerprint, threshold_days=30, force=False):
    try:
        return rotation_plan(list(certificates), str(new_fingerprint), int(threshold_days), boolean(force))
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"rotation_plan: {exc}") from None


class FilterModule:
    def filters(self):
        return {"x509_certificate_info": x509_certificate_info, "rotation_plan": _rotation_plan}
