# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AnsibleModule both modules are built on: connection options, client, clear failures."""

from __future__ import annotations

from typing import Any, NoReturn

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certops.aws.plugins.module_utils.connection import (
    CONNECTION_ARGUMENT_SPEC,
    HAS_BOTO3,
    ConnectionSettingsError,
    iam_client,
)
from ansible_collections.certops.aws.plugins.module_utils.iam import (
    IamError,
    SigningCertificates,
    invalid_certificate_id,
    invalid_user_name,
)

try:
    import botocore.exceptions
except ImportError:  # reported by AwsModule.__init__
    pass


class AwsModule(AnsibleModule):
    """An AnsibleModule with the shared AWS connection options and an IAM signing-certificate client."""

    def __init__(self, argument_spec: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(argument_spec={**CONNECTION_ARGUMENT_SPEC, **argument_spec}, **kwargs)
        if not HAS_BOTO3:
            self.fail_json(msg=missing_required_lib("boto3 and botocore"))

    def check_identifiers(self) -> None:
        """Fail before any call when user_name or certificate_id breaks IAM's rules."""
        for option, invalid in (("user_name", invalid_user_name), ("certificate_id", invalid_certificate_id)):
            value = self.params.get(option)
            if value is not None and invalid(value):
                self.fail_json(msg=invalid(value))

    def signing_certificates(self, max_pool_connections: int | None = None) -> SigningCertificates:
        """The IAM client for this task's connection options; failures end the task with a clear message."""
        try:
            return SigningCertificates(iam_client(self.params, max_pool_connections))
        except ConnectionSettingsError as exc:
            self.fail_json(msg=str(exc))
        except botocore.exceptions.BotoCoreError as exc:  # e.g. ProfileNotFound, an unknown region
            self.fail_json(msg=f"Could not set up the AWS connection: {exc}")

    def fail_iam(self, error: IamError, **result: Any) -> NoReturn:
        self.fail_json(msg=error.message, error_code=error.code, **result)

    def hide(self, secret: str) -> None:
        """Mask a value in everything this task returns, its invocation included."""
        self.no_log_values.add(secret)
