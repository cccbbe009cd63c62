#!/usr/bin/env bash
# ansible-test must run from inside ansible_collections/<namespace>/<name>/. Rather than move the
# repository, copy the files git would ship into such a tree in a temporary folder and run there.
# The folder must lie outside this checkout: inside it, ansible-test would ask this repository's
# git which files exist, and git ignores .cache. The collections our code imports (amazon.aws)
# are linked in beside it, from the venv.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree="$work/ansible_collections"
target="$tree/convex_selfhost/aws"
installed() { python3 -c "import ansible_collections.$1 as c; print(list(c.__path__)[0])"; }

mkdir -p "$target"
# Tracked files plus new ones not yet committed, never ignored ones (venv, caches, results).
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done |
  tar --null --files-from=- -cf - | tar -xf - -C "$target"

for dependency in amazon.aws; do
  link="$tree/${dependency/.//}"
  mkdir -p "$(dirname "$link")"
  ln -sfn "$(installed "$dependency")" "$link"
done

# ansible-test fetches get-pip.py from a host these machines cannot reach; give it a stand-in
# that uses Python's ensurepip (see that file). Only written when the cache has none.
pip_version=$(python3 -c 'from ansible_test._internal.python_requirements import get_venv_packages; print(1)' >/dev/null 2>&1 &&
  grep -oP "pip='\K[0-9.]+" "$(python3 -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py" | head -n1)
get_pip="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [ ! -s "$get_pip" ]; then
  mkdir -p "$(dirname "$get_pip")"
  cp "$root/tests/harness/ansible-test-get-pip.py" "$get_pip"
fi

cd "$target"
# --venv gives each sanity test the pinned tools ansible-test wants, in venvs of its own.
ansible-test sanity --venv --python "$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')" \
  --color no "$@"
