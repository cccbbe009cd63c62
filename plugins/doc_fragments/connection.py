# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# What every module built on ConvexAWSModule has: the options amazon.aws's AnsibleAWSModule adds
# (validate-modules checks that this text and that argument spec agree), and full check mode,
# which ConvexAWSModule turns on for all of them.


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  region:
    description:
      - AWS region the stack lives in, for example C(us-east-1).
      - Falls back to the E(AWS_REGION) or E(AWS_DEFAULT_REGION) environment variables.
      - Required. A missing or unknown region fails before any AWS call.
    type: str
    aliases: [aws_region]
  profile:
    description:
      - Named profile from the AWS shared configuration to take credentials and settings from.
      - Falls back to E(AWS_PROFILE) or E(AWS_DEFAULT_PROFILE).
      - Cannot be combined with O(access_key), O(secret_key) or O(session_token).
    type: str
    aliases: [aws_profile]
  access_key:
    description:
      - AWS access key id. Falls back to E(AWS_ACCESS_KEY_ID) or E(AWS_ACCESS_KEY).
      - Prefer a profile or an instance role over static keys.
    type: str
    aliases: [aws_access_key_id, aws_access_key]
  secret_key:
    description:
      - AWS secret access key. Falls back to E(AWS_SECRET_ACCESS_KEY) or E(AWS_SECRET_KEY).
    type: str
    aliases: [aws_secret_access_key, aws_secret_key]
  session_token:
    description:
      - Session token that goes with temporary credentials. Falls back to E(AWS_SESSION_TOKEN).
    type: str
    aliases: [aws_session_token]
  endpoint_url:
    description:
      - Send every AWS call of the module to this URL instead of AWS, for example an emulator
        such as C(http://127.0.0.1:5000) in tests.
      - Falls back to E(AWS_URL). The AWS SDK itself also honours E(AWS_ENDPOINT_URL) when this is
        unset; that variable is the one way the tests and the local inventory use, as
        it also reaches the stock amazon.aws modules.
    type: str
    aliases: [aws_endpoint_url]
  aws_ca_bundle:
    description:
      - CA bundle to verify the AWS endpoint's certificate with. Falls back to E(AWS_CA_BUNDLE).
    type: path
  validate_certs:
    description:
      - Whether to verify the AWS endpoint's TLS certificate. Leave it on; use O(aws_ca_bundle) for
        private CAs.
    type: bool
    default: true
  aws_config:
    description:
      - Extra botocore client settings, as keyword arguments of C(botocore.config.Config).
      - Modules of this collection retry on their own, with jittered backoff, and switch botocore's
        retries off; setting C(retries) here changes that.
    type: dict
  debug_botocore_endpoint_logs:
    description:
      - Record which AWS API actions the task called and return them as RV(ignore:resource_actions).
      - Falls back to E(ANSIBLE_DEBUG_BOTOCORE_LOGS).
    type: bool
    default: false
requirements:
  - python >= 3.9
  - boto3 >= 1.34.0
  - botocore >= 1.34.0
attributes:
  check_mode:
    support: full
    description: Reports what would change and changes nothing.
notes:
  - AWS calls run where the module runs, normally the controller, so credentials and the AWS
    configuration files are read there.
"""
