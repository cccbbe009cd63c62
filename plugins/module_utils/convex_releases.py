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


def check_release(registry_path, version, images, insecure=False, timeout=10):
    """Ask the registry for each image of version: (found, problem). found maps each image to
    its reference and digest; problem is None, or says what is wrong and that nothing changed."""
    from ansible_collections.convex_selfhost.aws.plugins.module_utils.registry import (  # noqa: PLC0415
        Registry,
        RegistryError,
        image_reference,
        split_registry,
    )

    host, path = split_registry(registry_path)
    registry = Registry(host, insecure=insecure, timeout=timeout)
    found, missing = {}, []
    for name in images:
        reference = image_reference(registry_path, name, version)
        try:
            digest = registry.manifest_digest(f"{path}/{name}" if path else name, version)
        except RegistryError as error:
            return found, (
                f"Could not check {reference}: {error}. The host pulls from the same registry, so it would fail "
                "there too; fix the network or the registry setting first."
            )
        if digest is None:
            missing.append(reference)
        else:
            found[name] = {"reference": reference, "digest": digest}
    if not missing:
        return found, None
    pinned = release_of(PINNED)
    return found, (
        f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not published, so the host could not "
        f"pull {'it' if len(missing) == 1 else 'them'}; nothing was changed. Upstream publishes images only for "
        "commits of its release branch (git tags precompiled-<date>-<sha7>), not for other commits of main. "
        f"This collection pins {PINNED} (published {pinned['date']}, convex CLI {pinned['cli_version']})."
    )


def release_facts(version, found):
    """What the collection knows of version, with the images found for it."""
    release = release_of(version) or {}
    return {"images": found, "checked": bool(release), "cli_version": release.get("cli_version", ""), "pinned": PINNED}
