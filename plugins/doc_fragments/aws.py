# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The AWS connection options shared by every module of the collection.
    DOCUMENTATION = r"""
options:
  access_key:
    description:
      - AWS access key ID.
      - When not set, the environment variables E(AWS_ACCESS_KEY_ID), E(AWS_ACCESS_KEY) or
        E(EC2_ACCESS_KEY) are used, then the usual botocore credential chain (profile, instance role, ...).
      - Cannot be combined with O(profile) set in the task (module_defaults count as the task).
      - Needs O(secret_key) as well, from the task or the environment.
    type: str
    aliases: [aws_access_key_id, aws_access_key, ec2_access_key]
  secret_key:
    description:
      - AWS secret access key.
      - When not set, the environment variables E(AWS_SECRET_ACCESS_KEY), E(AWS_SECRET_KEY) or
        E(EC2_SECRET_KEY) are used.
      - Never shown in output.
    type: str
    aliases: [aws_secret_access_key, aws_secret_key, ec2_secret_key]
  session_token:
    description:
      - AWS session token, for temporary credentials.
      - When not set, the environment variables E(AWS_SESSION_TOKEN) or E(AWS_SECURITY_TOKEN) are used.
      - Never shown in output.
    type: str
    aliases: [aws_session_token, security_token, aws_security_token]
  profile:
    description:
      - A named profile of the AWS shared config and credentials files.
      - When not set, the environment variables E(AWS_PROFILE) or E(AWS_DEFAULT_PROFILE) are used.
      - Cannot be combined with O(access_key), O(secret_key) or O(session_token) set in the task, whatever the
        environment says. A profile set in the task (for example per host in an inventory) takes precedence over
        access keys from the environment, and access keys set in the task take precedence over a profile from the
        environment. When both come from the environment, the keys win, as in the AWS CLI.
    type: str
    aliases: [aws_profile]
  region:
    description:
      - The AWS region to sign requests for.
      - IAM is a global service; the default C(us-east-1) is right for the commercial partition.
        Set a region of another partition (for example C(us-gov-west-1) or C(cn-north-1)) to manage IAM there.
      - When not set, the environment variables E(AWS_REGION) or E(AWS_DEFAULT_REGION) are used.
    type: str
    aliases: [aws_region]
  endpoint_url:
    description:
      - The URL of the IAM endpoint, to reach a VPC endpoint, a proxy or an emulator such as moto.
      - When not set, the environment variable E(AWS_URL) is used; botocore's own
        E(AWS_ENDPOINT_URL) and E(AWS_ENDPOINT_URL_IAM) keep working as well.
    type: str
    aliases: [aws_endpoint_url]
  validate_certs:
    description:
      - Whether to verify the TLS certificate of the endpoint.
      - Setting this to V(false) is insecure; use it only against a test endpoint.
    type: bool
    default: true
  aws_ca_bundle:
    description:
      - Path to a CA bundle used to verify the endpoint's TLS certificate.
      - When not set, the environment variable E(AWS_CA_BUNDLE) is used.
    type: path
  aws_config:
    description:
      - "Settings passed to botocore's C(Config), for example
        C({retries: {mode: adaptive, total_max_attempts: 10}, read_timeout: 30})."
      - They override the collection's defaults (standard retry mode with 4 attempts in all,
        5 second connect timeout, 10 second read timeout) and O(retries) and O(retry_mode).
      - Only the settings below are accepted; each is checked before any call and a wrong one fails
        with a message that names it.
    type: dict
    suboptions:
      connect_timeout:
        description: Seconds to wait for a connection, more than 0.
        type: float
      read_timeout:
        description: Seconds to wait for an answer, more than 0.
        type: float
      max_pool_connections:
        description: The size of the HTTP connection pool, 1 or more.
        type: int
      retries:
        description: botocore's retry settings.
        type: dict
        suboptions:
          mode:
            description: The retry mode.
            type: str
            choices: [standard, adaptive, legacy]
          total_max_attempts:
            description: Attempts in all, the first included, 1 to 20.
            type: int
          max_attempts:
            description: Retries after the first attempt, 0 to 19 (botocore's older form).
            type: int
      proxies:
        description: "Proxy URL per scheme, for example C({https: http://proxy.example:3128})."
        type: dict
      proxies_config:
        description: Further proxy settings, such as C(proxy_ca_bundle) or C(proxy_use_forwarding_for_https).
        type: dict
      user_agent_extra:
        description: Text added to the User-Agent header; one line.
        type: str
      user_agent_appid:
        description: An application ID added to the User-Agent header; one line.
        type: str
      tcp_keepalive:
        description: Whether to use TCP keep-alive.
        type: bool
      parameter_validation:
        description: Whether botocore validates request parameters before sending them.
        type: bool
      use_fips_endpoint:
        description: Whether to use the FIPS endpoint.
        type: bool
      use_dualstack_endpoint:
        description: Whether to use the dual-stack (IPv4 and IPv6) endpoint.
        type: bool
      client_cert:
        description: Path to a client certificate (PEM, certificate and key in one file) for mutual TLS.
        type: path
  retries:
    description:
      - How many attempts botocore makes for each request, the first one included, from 1 to 20.
      - Throttling, 5xx errors and connection failures are retried with exponential back-off.
      - The default is 4. A setting of C(retries) in O(aws_config) takes precedence.
    type: int
  retry_mode:
    description:
      - botocore's retry mode. V(adaptive) also slows the client down on throttling, which suits
        large O(certops.aws.iam_signing_certificate_info#module:all_users) audits.
      - The default is V(standard).
    type: str
    choices: [standard, adaptive, legacy]
requirements:
  - python >= 3.9
  - boto3
  - botocore
  - cryptography
notes:
  - Credentials are looked up as botocore does (module options, environment, shared files, instance role),
    with the module options and environment variables above taking precedence.
  - An option given as V(null) counts as not given (its default or environment variable applies); V(false)
    counts as not given in the rules between options.
  - Every malformed connection option (for example O(endpoint_url) without a scheme, a O(region) that is not
    a region name, a missing O(aws_ca_bundle) file) fails before any call with a message that names it.
"""
