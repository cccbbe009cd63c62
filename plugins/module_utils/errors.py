# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn botocore exceptions into one-line failures that say what to do next."""

from __future__ import annotations

try:
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError, NoRegionError, PartialCredentialsError
except ImportError:  # AnsibleAWSModule reports a missing botocore itself.
    EndpointConnectionError = NoCredentialsError = NoRegionError = PartialCredentialsError = None

_CREDENTIALS_HINT = (
    "check the AWS credentials: set profile (or AWS_PROFILE), or access_key and secret_key "
    "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), and make sure they are not expired"
)

# What to fix, by AWS error code. Codes not listed keep AWS's own message.
HINTS = {
    "AccessDenied": "give the caller's IAM identity permission for this action",
    "AccessDeniedException": "give the caller's IAM identity permission for this action",
    "UnauthorizedOperation": "give the caller's IAM identity permission for this action",
    "AuthFailure": _CREDENTIALS_HINT,
    "ExpiredToken": "the session token has expired: refresh the credentials",
    "ExpiredTokenException": "the session token has expired: refresh the credentials",
    "InvalidClientTokenId": _CREDENTIALS_HINT,
    "SignatureDoesNotMatch": _CREDENTIALS_HINT,
    "UnrecognizedClientException": _CREDENTIALS_HINT,
    "OptInRequired": "enable this service or region for the account first",
    "InvalidAccessKeyId": _CREDENTIALS_HINT,
}


def error_code(error):
    """The AWS error code of a ClientError, or '' for anything else."""
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Code", "")


def explain(error, action):
    """A message of the form 'Could not <action>: <what AWS said>; <what to fix>'."""
    if NoRegionError is not None and isinstance(error, NoRegionError):
        return f"Could not {action}: no region is set; set region (or AWS_REGION)"
    if NoCredentialsError is not None and isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return f"Could not {action}: no usable AWS credentials were found; {_CREDENTIALS_HINT}"
    if EndpointConnectionError is not None and isinstance(error, EndpointConnectionError):
        return (
            f"Could not {action}: the AWS endpoint did not answer ({error}); check endpoint_url "
            "(or AWS_ENDPOINT_URL) and the network"
        )
    code = error_code(error)
    if code:
        message = error.response.get("Error", {}).get("Message") or ""
        text = f"Could not {action}: {code}: {message}".rstrip(": ")
        hint = HINTS.get(code)
        return f"{text}; {hint}" if hint else text
    return f"Could not {action}: {error}"
