# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ask an OCI registry whether an image tag exists, the way a pull begins.

The registry HTTP API (distribution's spec, which ghcr.io follows) answers a HEAD on
/v2/<repository>/manifests/<tag> with 200 and the manifest's digest when the tag exists and
404 when it does not. Registries that want a token even for public images (ghcr.io does)
first answer 401 with a challenge, `WWW-Authenticate: Bearer realm=...,service=...,scope=...`;
an anonymous GET on the realm with that service and scope returns a pull token.
"""

from __future__ import annotations

import json
import re

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.parse import urlencode
from ansible.module_utils.urls import open_url

# Multi-architecture indexes first: the Convex images are published as a manifest list.
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
_CHALLENGE_PART = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(Exception):
    """The registry could not say whether the tag exists (unreachable, refused, broken)."""


def split_registry(registry):
    """'ghcr.io/get-convex' -> ('ghcr.io', 'get-convex'); the path may be empty."""
    host, _slash, path = registry.strip("/").partition("/")
    return host, path


def image_reference(registry, name, tag):
    return f"{registry.strip('/')}/{name}:{tag}"


class Registry:
    """One registry host, reached over HTTPS, or plain HTTP for an insecure (test) registry."""

    def __init__(self, host, insecure=False, timeout=10):
        self.base = f"{'http' if insecure else 'https'}://{host}"
        self.timeout = timeout
        self._tokens = {}

    def _open(self, url, method="GET", headers=None):
        return open_url(
            url, method=method, headers=headers or {}, timeout=self.timeout, follow_redirects="all", use_proxy=True
        )

    def _token(self, challenge, repository):
        """An anonymous pull token for repository, from the realm a 401 challenge names."""
        scheme, _space, rest = challenge.partition(" ")
        if scheme.lower() != "bearer":
            raise RegistryError(f"{self.base} asks for {scheme or 'unknown'} authentication, not an anonymous token")
        parts = dict(_CHALLENGE_PART.findall(rest))
        if "realm" not in parts:
            raise RegistryError(f"{self.base} sent a token challenge without a realm: {challenge}")
        query = {"scope": parts.get("scope") or f"repository:{repository}:pull"}
        if parts.get("service"):
            query["service"] = parts["service"]
        try:
            answer = json.loads(self._open(f"{parts['realm']}?{urlencode(query)}").read())
        except (HTTPError, URLError, OSError, ValueError) as error:
            raise RegistryError(f"the token service {parts['realm']} did not give a pull token: {error}") from error
        token = answer.get("token") or answer.get("access_token")
        if not token:
            raise RegistryError(f"the token service {parts['realm']} answered without a token")
        return token

    def manifest_digest(self, repository, tag):
        """The digest of repository:tag, or None when the registry says it does not exist."""
        url = f"{self.base}/v2/{repository}/manifests/{tag}"
        headers = {"Accept": MANIFEST_TYPES}
        for attempt in ("anonymous", "with a token"):
            if repository in self._tokens:
                headers["Authorization"] = f"Bearer {self._tokens[repository]}"
            try:
                answer = self._open(url, method="HEAD", headers=headers)
                return answer.headers.get("Docker-Content-Digest") or "(no digest given)"
            except HTTPError as error:
                if error.code == 404:
                    return None
                challenge = error.headers.get("WWW-Authenticate", "") if error.headers else ""
                if error.code == 401 and attempt == "anonymous" and challenge:
                    self._tokens[repository] = self._token(challenge, repository)
                    continue
                if error.code in (401, 403):
                    # ghcr.io answers a repository that does not exist, or is private, this way.
                    raise RegistryError(
                        f"{url} was refused (HTTP {error.code}): the repository does not exist or is not public"
                    ) from error
                raise RegistryError(f"{url} answered HTTP {error.code}") from error
            except (URLError, OSError) as error:
                raise RegistryError(f"{self.base} could not be reached: {getattr(error, 'reason', error)}") from error
        raise RegistryError(f"{url} still asked for authentication after a token was given")
