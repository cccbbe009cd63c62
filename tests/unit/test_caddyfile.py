"""The caddy role's Caddyfile, rendered by Ansible with the role's own defaults. Without an app
it is byte for byte the file of the release before apps existed (golden/Caddyfile.no-app was
rendered from that template, commit eeb6787), with only the refusal of the backend's /metrics
added since; with an app, the app's site has the headers, caching and fallback it promises."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "caddy"
STAGE = {
    "caddy_domain": "convex.example.com",
    "caddy_acme_email": "ops@example.com",
    "caddy_dashboard_allowed_cidrs": ["203.0.113.0/24"],
    "ansible_managed": "Managed by convex_selfhost.aws",
}
APP = {
    "caddy_app_root": "/srv/convex-app/current",
    "caddy_app_connect_origins": ["https://api.convex.example.com", "wss://api.convex.example.com"],
}


def render(out, variables, template=ROLE / "templates" / "Caddyfile.j2"):
    subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible")),
            "localhost",
            "-m",
            "ansible.builtin.template",
            "-a",
            f"src={template} dest={out}",
            "-e",
            f"@{ROLE}/defaults/main.yml",
            "-e",
            json.dumps(variables),
        ],
        check=True,
        capture_output=True,
        env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg")),
    )
    return out.read_bytes()


def test_without_an_app_the_caddyfile_is_the_one_before_apps_existed(tmp_path):
    assert render(tmp_path / "Caddyfile", STAGE) == (Path(__file__).parent / "golden" / "Caddyfile.no-app").read_bytes()


def test_the_apps_site_caches_hashed_assets_forever_and_nothing_else(tmp_path):
    text = render(tmp_path / "Caddyfile", {**STAGE, **APP}).decode()
    site = text[text.index("app.convex.example.com {") :]
    assert "import convex_front" in site, "the same security headers as the other sites"
    assert "connect-src 'self' https://api.convex.example.com wss://api.convex.example.com;" in site, (
        "the page may talk to the stage's API and nothing else"
    )
    assert 'header @hashed Cache-Control "public, max-age=31536000, immutable"' in site
    assert 'header @unhashed Cache-Control "no-store"' in site
    assert "encode zstd gzip" in site
    assert "rewrite @app_route /index.html" in site and 'root * "/srv/convex-app/current"' in site
