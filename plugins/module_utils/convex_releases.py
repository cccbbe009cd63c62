# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The upstream Convex releases this collection was checked against, and the one it pins.

Upstream (get-convex/convex-backend) publishes ghcr.io/get-convex/convex-backend:<sha> and
convex-dashboard:<sha> only for pushes to its `release` branch
(.github/workflows/release_self_hosted_images.yml); each such push also gets a git tag
`precompiled-<date>-<sha7>`. A commit of `main` has no images. The CLI version is the one in
npm-packages/convex/package.json at the same commit: a CLI out of step with the backend breaks
`npx convex deploy`.

The role default, every inventory and the vendored upstream compose file
(tests/data/upstream/) follow PINNED; tests keep them equal.
"""

from __future__ import annotations

PINNED = "652b828b5129e6cdbcaa3c20efa8d116d09ff3bf"

RELEASES = {
    "652b828b5129e6cdbcaa3c20efa8d116d09ff3bf": {
        "date": "2026-08-21",
        "tags": ["precompiled-2026-08-21-652b828", "precompiled-2026-08-22-652b828"],
        "source": "https://github.com/get-convex/convex-backend/commit/652b828b5129e6cdbcaa3c20efa8d116d09ff3bf",
        "cli_version": "1.45.0",
    },
}


def release_of(version):
    """What this collection knows of version, or None when it was never checked against it."""
    return RELEASES.get(version)
