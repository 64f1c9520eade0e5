# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AnsibleModule of the modules that run on the hosts that hold the keys (role host_signing_certificate).

Lean on purpose: it imports neither boto3 nor the IAM code, which hosts do not need and which would cost every
host module start-up. Like the AWS modules, it masks private-key material in any option before Ansible's own
validation could echo it (design rule 6).
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certops.aws.plugins.module_utils.certificate import (
    HAS_CRYPTOGRAPHY,
    contains_private_key,
    private_key_fragments,
    strings_in,
)


class HostModule(AnsibleModule):
    def _load_params(self) -> None:
        super()._load_params()
        for text in strings_in(self.params):
            if contains_private_key(text):
                self.no_log_values.update(private_key_fragments(text))

    def require_cryptography(self) -> None:
        if not HAS_CRYPTOGRAPHY:
            self.fail_json(msg=missing_required_lib("cryptography"), error_code="MissingLibrary")
