"""release_info against a real OCI registry (Debian's docker-registry), and against a stand-in for
ghcr.io's anonymous token flow (distribution's token authentication: a 401 challenge naming a
realm, an anonymous GET there for a pull token, the request again with it)."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from module_runner import run_module
from moto_server import free_port

REPO = Path(__file__).resolve().parents[2]
PINNED = "652b828b5129e6cdbcaa3c20efa8d116d09ff3bf"
MAIN_COMMIT = "94a42c3db8d7ba6d9fe36f2698f9d9d9daaac731"


def check(registry_path, version, **extra):
    return run_module("release_info", {"version": version, "registry": registry_path, "insecure": True, **extra})


def test_published_release_gives_both_digests(registry):
    backend = registry.push("get-convex/convex-backend", "rel-1", multi_arch=True)
    dashboard = registry.push("get-convex/convex-dashboard", "rel-1", multi_arch=True)
    result = check(f"{registry.host}/get-convex", "rel-1")
    assert not result.failed, result
    assert result["images"]["convex-backend"]["digest"] == backend
    assert result["images"]["convex-dashboard"]["digest"] == dashboard
    assert result["images"]["convex-backend"]["reference"] == f"{registry.host}/get-convex/convex-backend:rel-1"
    assert result["checked"] is False
    assert result["cli_version"] == ""


def test_pinned_release_names_its_cli_version(registry):
    # The shared registry (conftest.py) holds the pinned release, as ghcr.io does.
    result = check(f"{registry.host}/get-convex", PINNED)
    assert not result.failed, result
    assert result["checked"] is True
    assert result["cli_version"] == "1.45.0"


def test_unpublished_version_is_refused_naming_the_release_branch(registry):
    result = check(f"{registry.host}/get-convex", MAIN_COMMIT)
    assert result.failed
    assert "are not published" in result["msg"]
    assert "only for commits of its release branch" in result["msg"]
    assert "nothing was changed" in result["msg"]
    assert PINNED in result["msg"]
    assert len(result["missing"]) == 2


def test_one_missing_image_is_named_alone(registry):
    registry.push("get-convex/convex-backend", "half")
    result = check(f"{registry.host}/get-convex", "half")
    assert result.failed
    assert result["missing"] == [f"{registry.host}/get-convex/convex-dashboard:half"]


def test_unreachable_registry_says_so():
    result = check(f"127.0.0.1:{free_port()}/get-convex", PINNED)
    assert result.failed
    assert result["unreachable_registry"] is True
    assert "could not be reached" in result["msg"]


@pytest.mark.parametrize(
    ("version", "registry_path", "named"),
    [
        ("latest", "ghcr.io/get-convex", "version 'latest'"),
        ("has space", "ghcr.io/get-convex", "version 'has space'"),
        (PINNED, "https://ghcr.io/get-convex", "registry 'https://ghcr.io/get-convex'"),
    ],
)
def test_bad_input_is_refused_before_asking(version, registry_path, named):
    result = run_module("release_info", {"version": version, "registry": registry_path})
    assert result.failed
    assert named in result["msg"]


class TokenRegistry(BaseHTTPRequestHandler):
    """Answers like ghcr.io: every manifest request first needs an anonymous pull token."""

    token = "anonymous-pull-token"  # noqa: S105 - a fake value
    tags = {"get-convex/convex-backend": "v1", "get-convex/convex-dashboard": "v1"}
    token_requests: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        if parts.path == "/token":
            self.token_requests.append(parse_qs(parts.query))
            body = json.dumps({"token": self.token}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(405)
        self.end_headers()

    def do_HEAD(self):  # noqa: N802 - http.server's naming
        repository, _separator, tag = self.path.removeprefix("/v2/").partition("/manifests/")
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            self.send_response(401)
            host = self.headers["Host"]
            self.send_header(
                "WWW-Authenticate",
                f'Bearer realm="http://{host}/token",service="fake-ghcr",scope="repository:{repository}:pull"',
            )
            self.end_headers()
            return
        if self.tags.get(repository) == tag:
            self.send_response(200)
            self.send_header("Docker-Content-Digest", f"sha256:{'a' * 64}")
        else:
            self.send_response(404)
        self.end_headers()


def test_anonymous_token_is_asked_for_and_used():
    TokenRegistry.token_requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), TokenRegistry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host = f"127.0.0.1:{server.server_address[1]}"
        result = check(f"{host}/get-convex", "v1")
        missing = check(f"{host}/get-convex", "v2")
    finally:
        server.shutdown()
    assert not result.failed, result
    assert result["images"]["convex-backend"]["digest"] == f"sha256:{'a' * 64}"
    assert {"service": ["fake-ghcr"], "scope": ["repository:get-convex/convex-backend:pull"]} in (
        TokenRegistry.token_requests
    )
    assert missing.failed and "not published" in missing["msg"]


def test_every_inventory_and_the_role_pin_a_checked_release():
    from ansible_collections.convex_selfhost.aws.plugins.module_utils.convex_releases import (  # noqa: PLC0415
        PINNED as COLLECTION_PIN,
    )
    from ansible_collections.convex_selfhost.aws.plugins.module_utils.convex_releases import (  # noqa: PLC0415
        RELEASES,
    )

    assert COLLECTION_PIN == PINNED
    # Every inventory file that pins a version (host_vars of dev, staging and production, the local
    # deployments' group_vars).
    pins = {
        str(path.relative_to(REPO)): yaml.safe_load(path.read_text())["convex_version"]
        for path in (REPO / "inventories").glob("*/*_vars/*.yml")
        if "convex_version" in (yaml.safe_load(path.read_text()) or {})
    }
    pins["role default"] = yaml.safe_load((REPO / "roles/convex/defaults/main.yml").read_text())["convex_version"]
    assert len(pins) >= 5
    assert {name: pin for name, pin in pins.items() if pin not in RELEASES} == {}
    for version, release in RELEASES.items():
        assert release["cli_version"] and release["source"].endswith(version)
        assert all(tag.startswith("precompiled-") for tag in release["tags"])


def test_the_example_app_deploys_with_the_pinned_releases_cli():
    """A CLI out of step with the backend breaks `npx convex deploy`: the example's own convex
    package (as package.json asks and the lock resolves it) and the command its README gives
    are the pinned release's CLI."""
    from ansible_collections.convex_selfhost.aws.plugins.module_utils.convex_releases import (  # noqa: PLC0415
        release_of,
    )

    cli = release_of(PINNED)["cli_version"]
    example = REPO / "examples" / "chat"
    assert json.loads((example / "package.json").read_text())["dependencies"]["convex"] == cli
    assert json.loads((example / "package-lock.json").read_text())["packages"]["node_modules/convex"]["version"] == cli
    commands = re.findall(r"npx convex@([0-9.]+)", (example / "README.md").read_text())
    assert commands and set(commands) == {cli}, commands
