# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The floor of the task-overhead benchmark: the least an Ansible module can do for the same answer.

It builds a boto3 IAM client (endpoint, region and credentials from the environment, as the collection's
module gets them in the benchmark) and makes one ListSigningCertificates call: no option checks beyond
AnsibleModule's, no pagination, no certificate parsing. Not part of the collection.
"""

from __future__ import annotations

import boto3
from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(argument_spec={"user_name": {"type": "str", "required": True}}, supports_check_mode=True)
    client = boto3.client("iam", region_name="us-east-1")
    response = client.list_signing_certificates(UserName=module.params["user_name"])
    certificates = [{**cert, "UploadDate": cert["UploadDate"].isoformat()} for cert in response["Certificates"]]
    module.exit_json(changed=False, certificates=certificates)


if __name__ == "__main__":
    main()
