"""A real OCI registry for tests: Debian's docker-registry (the distribution registry) on a free
127.0.0.1 port, with its storage in a folder of the test's. Images are put into it through the
registry's own HTTP API, so no Docker engine is needed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from moto_server import free_port

MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX = "application/vnd.oci.image.index.v1+json"


def ensure_installed():
    if shutil.which("docker-registry"):
        return
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "docker-registry"]):
        subprocess.run(command, check=True, capture_output=True, env=env)


class OciRegistry:
    def __init__(self, folder):
        self.folder = Path(folder)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self._process = None

    def start(self, timeout=20):
        ensure_installed()
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "config.yml"
        config.write_text(
            "version: 0.1\nlog: {level: warn}\n"
            f"storage: {{filesystem: {{rootdirectory: {self.folder / 'data'}}}}}\n"
            f'http: {{addr: "{self.host}"}}\n'
        )
        log = (self.folder / "registry.log").open("ab")
        self._process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1).close()
                return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"docker-registry did not answer; see {self.folder / 'registry.log'}")

    def stop(self):
        if self._process and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(10)

    def _blob(self, repository, data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        started = urllib.request.Request(f"http://{self.host}/v2/{repository}/blobs/uploads/", method="POST")
        location = urllib.request.urlopen(started, timeout=10).headers["Location"]
        separator = "&" if "?" in location else "?"
        url = location if location.startswith("http") else f"http://{self.host}{location}"
        finished = urllib.request.Request(
            f"{url}{separator}digest={digest}",
            data=data,
            method="PUT",
            headers={"Content-Type": "application/octet-stream"},
        )
        urllib.request.urlopen(finished, timeout=10).close()
        return {"size": len(data), "digest": digest}

    def _manifest(self, repository, tag, body, media_type):
        data = json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://{self.host}/v2/{repository}/manifests/{tag}",
            data=data,
            method="PUT",
            headers={"Content-Type": media_type},
        )
        urllib.request.urlopen(request, timeout=10).close()
        return "sha256:" + hashlib.sha256(data).hexdigest()

    def push(self, repository, tag, multi_arch=False):
        """A minimal image at repository:tag (as an index over one manifest with multi_arch).
        Returns the digest a pull of the tag resolves."""
        config = self._blob(repository, json.dumps({"architecture": "arm64", "os": "linux"}).encode())
        layer = self._blob(repository, b"a layer")
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", **config},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", **layer}],
        }
        if not multi_arch:
            return self._manifest(repository, tag, manifest, MANIFEST)
        body = json.dumps(manifest).encode()
        digest = self._manifest(repository, "sha256:" + hashlib.sha256(body).hexdigest(), manifest, MANIFEST)
        index = {
            "schemaVersion": 2,
            "mediaType": INDEX,
            "manifests": [
                {
                    "mediaType": MANIFEST,
                    "size": len(body),
                    "digest": digest,
                    "platform": {"architecture": "arm64", "os": "linux"},
                }
            ],
        }
        return self._manifest(repository, tag, index, INDEX)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
