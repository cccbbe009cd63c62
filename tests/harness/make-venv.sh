#!/usr/bin/env bash
# Create the virtualenv from requirements-dev.txt; do nothing when it is already up to date.
# Also expose this checkout as the collection convex_selfhost.aws under .cache/collections,
# the path ansible.cfg lists, so playbooks and molecule use the working tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${1:-.venv}
stamp="$venv/.requirements-dev.sha256"
want=$(sha256sum requirements-dev.txt requirements.txt | sha256sum | cut -d' ' -f1)

if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "venv: installing requirements-dev.txt into $venv"
  python3 -m venv "$venv"
  # This machine's pip configuration names local indexes that may be absent; their
  # warnings are noise, real errors still show.
  "$venv/bin/python" -m pip install --quiet -r requirements-dev.txt 2>&1 |
    { grep -v '^WARNING: Location .* is ignored' || true; }
  echo "$want" > "$stamp"
else
  echo "venv: $venv is up to date"
fi

link=.cache/collections/ansible_collections/convex_selfhost/aws
mkdir -p "$(dirname "$link")"
[ -L "$link" ] || ln -sfn ../../../.. "$link"
