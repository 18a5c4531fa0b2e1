#!/usr/bin/env bash
# ansible-test sanity for the collection, run locally (no containers): ansible-test must run from
# ansible_collections/<namespace>/<name>, as a real directory, so this copies the files git would
# commit (tests/collection.py --copy) to a temporary tree and runs there.
#
#   tests/sanity.sh                      # every sanity test that needs no network
#   tests/sanity.sh --test pylint        # extra arguments go to ansible-test sanity
#   PYTHON=/path/to/python tests/sanity.sh   # another Python (its ansible-core is the one tested)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-$repo/.venv/bin/python}
bindir=$(dirname "$python")
version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# ansible-test bootstraps pip in its per-test virtual environments with a script from
# ci-files.testing.ansible.com, which this machine cannot reach; give it tests/pip_bootstrap.py
# instead (see that file) unless the real script is cached already.
pip_version=$("$python" -c 'import re, ansible_test._internal.python_requirements as r, inspect
print(re.search(r"pip=.([0-9.]+).", inspect.getsource(r.get_venv_packages)).group(1))')
get_pip="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [[ ! -e $get_pip ]]; then
  mkdir -p "$(dirname "$get_pip")"
  cp "$repo/tests/pip_bootstrap.py" "$get_pip"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target=$("$python" "$repo/tests/collection.py" --copy "$work")
cd "$target"

# Skipped: none of the remaining tests reaches the network. Listed here, not silently dropped:
#   (nothing yet)
echo "tests/sanity.sh: ansible-test sanity --local --python $version in $target"
exec "$bindir/ansible-test" sanity --local --python "$version" --color no "$@"
