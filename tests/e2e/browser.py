"""Debian's chromium, headless, trusting only the local stage's CA (in an NSS database of its
own, as Chromium on Linux reads trust from NSS), for the app's page test."""

from __future__ import annotations

import subprocess
from pathlib import Path


class Browser:
    def __init__(self, home: Path, ca: Path):
        self.home = home
        nssdb = home / ".pki" / "nssdb"
        nssdb.mkdir(parents=True, exist_ok=True)
        subprocess.run(["certutil", "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True)
        subprocess.run(
            ["certutil", "-d", f"sql:{nssdb}", "-A", "-t", "C,,", "-n", "convex-local-stage", "-i", str(ca)],
            check=True,
        )

    def run(self, url, *flags):
        """chromium --headless on url; scripts get a few seconds of (virtual) time to run first."""
        return subprocess.run(
            [
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                # This machine's network is closed: Chromium's own background calls would only fail.
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={self.home / 'profile'}",
                "--virtual-time-budget=8000",
                *flags,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={"HOME": str(self.home), "PATH": "/usr/bin:/bin"},
            check=False,
        )

    def dom(self, url):
        """The page's DOM after its scripts ran."""
        return self.run(url, "--dump-dom").stdout

    def screenshot(self, url, path: Path):
        self.run(url, f"--screenshot={path}", "--window-size=1000,700")
        return path
