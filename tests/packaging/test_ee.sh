#!/usr/bin/env bash
# The execution environment definition (meta/execution-environment.yml) as ansible-builder reads
# it: `ansible-builder create` writes the build context (no image is built, no registry is
# reached), and the context must carry the collection's Python requirements and system packages.
#
#   tests/packaging/test_ee.sh        (make ee)
#
# ansible-builder is not in requirements-dev.txt (changing that file rebuilds the project venv):
# it lives in a venv of its own under the lab cache, made from PyPI the first time.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
python=${PYTHON:-$repo/.venv/bin/python}
venv=${AIRGAP_LAB_CACHE:-/var/cache/airgap-lab}/venvs/ansible-builder
# ansible-builder 3.x reads the version 3 schema.
spec='ansible-builder>=3.1,<4'

if [[ ! -x $venv/bin/ansible-builder ]]; then
  echo "test_ee: making $venv ($spec)"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q "$spec"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "test_ee: FAIL: $*" >&2; exit 1; }

cd "$repo"
"$venv/bin/ansible-builder" create -f meta/execution-environment.yml -c "$work/context" --output-filename Containerfile \
  >"$work/create.log" 2>&1 || { cat "$work/create.log" >&2; fail "ansible-builder create refused meta/execution-environment.yml"; }

context=$work/context
containerfile=$context/Containerfile
[[ -f $containerfile ]] || fail "no Containerfile in $context"
# ansible-builder copies the requirement files into the context under _build/.
cmp -s meta/requirements.txt "$context/_build/requirements.txt" || fail "the context lacks meta/requirements.txt"
cmp -s meta/bindep.txt "$context/_build/bindep.txt" || fail "the context lacks meta/bindep.txt"
# Every package the files name is in the context as written.
for package in cryptography PyYAML Jinja2; do
  grep -qi "^$package" "$context/_build/requirements.txt" || fail "requirements.txt lacks $package"
done
for package in openssh-client openssh-clients gpgv gnupg2 debian-archive-keyring; do
  grep -q "^$package " "$context/_build/bindep.txt" || fail "bindep.txt lacks $package"
done
# The core and runner as the definition pins them, on the base image it names.
grep -q '^ARG ANSIBLE_INSTALL_REFS=".*ansible-core.*ansible-runner' "$containerfile" || fail "no ansible-core and ansible-runner"
grep -q '^ARG EE_BASE_IMAGE=".*awx-ee' "$containerfile" || fail "the Containerfile does not name the base image"
grep -q 'introspect.py introspect --user-pip=requirements.txt --user-bindep=bindep.txt' "$containerfile" \
  || fail "the Containerfile does not install requirements.txt and bindep.txt"
# The collection build ships the EE files where the definition names them.
"$repo/.venv/bin/ansible-galaxy" collection build --force --output-path "$work/build" . >/dev/null
tar -tzf "$work"/build/airgap-kubernetes-*.tar.gz >"$work/members"
for member in meta/execution-environment.yml meta/requirements.txt meta/bindep.txt; do
  grep -qx "$member" "$work/members" || fail "the collection tarball lacks $member"
done
echo "test_ee: ok: ansible-builder $("$venv/bin/ansible-builder" --version) wrote a context with meta/requirements.txt and meta/bindep.txt; the collection tarball ships them"
