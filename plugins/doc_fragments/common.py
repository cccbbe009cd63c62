# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# What every AWS module of this collection adds to amazon.aws's connection options
# (amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3): full check mode, a
# region refused before any call, and one retry policy.


class ModuleDocFragment:
    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
    description: Reports what would change and changes nothing.
notes:
  - A missing or unknown O(region) fails before any AWS call.
  - Calls that fail for passing reasons (throttling, 5xx answers, dropped connections) are retried
    with jittered backoff; botocore's own retries are switched off, so C(aws_config) changes that.
  - E(AWS_ENDPOINT_URL) sends every AWS call of a run, these modules' and amazon.aws's alike, to
    another endpoint, such as a test emulator.
  - AWS calls run where the module runs, normally the controller, so credentials and the AWS
    configuration files are read there.
  - What a module makes carries the collection's ownership tag, C(convex_selfhost:managed-by), and a
    C(Name) tag where AWS shows names, so that teardown finds exactly what the collection made. These
    are kept whatever C(purge_tags) says.
"""
