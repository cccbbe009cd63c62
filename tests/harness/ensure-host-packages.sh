#!/usr/bin/env bash
# The Debian packages the test stages use on this machine itself, installed in one apt run when
# any is missing:
#   chromium and libnss3-tools  the app's page test: a real headless browser, and certutil to
#                               trust the local stage's CA in an NSS database;
#   docker-registry             the stand-in images' registry (scripts/standin-registry);
#   libnss-myhostname           *.localhost for Node and glibc (scripts/local-stage);
#   cloud-guest-utils, fdisk    growpart, and sfdisk to make a disk image's partition table
#                               (the capacity role's test, tests/integration/test_capacity.py).
# The scripts install what they need themselves when run alone. make test installs it all here,
# before its stages run side by side: two apt runs at once would fight over dpkg's lock.
# Without recommends: chromium's would bring avahi, which rewrites nsswitch.conf.
set -euo pipefail

wanted=(chromium libnss3-tools docker-registry libnss-myhostname cloud-guest-utils fdisk)
missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f '${db:Status-Status}' "$package" 2>/dev/null | grep -qx installed || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "host-packages: ${wanted[*]} are here"
  exit 0
fi
echo "host-packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "host-packages: $(chromium --version)"
