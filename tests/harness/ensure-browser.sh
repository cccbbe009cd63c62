#!/usr/bin/env bash
# Make sure a real headless browser is here for the app's page test: Debian's chromium, and
# certutil to trust the local stage's CA in an NSS database. Without recommends: they would
# bring avahi, which rewrites nsswitch.conf.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v certutil >/dev/null 2>&1; then
  echo "browser: chromium and certutil are here"
  exit 0
fi
echo "browser: installing Debian's chromium and libnss3-tools"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium libnss3-tools >/dev/null
echo "browser: $(chromium --version)"
