#!/usr/bin/env bash
# The collection installs and loads with ansible-core alone, offline: build the tarball from this
# checkout, install it with `ansible-galaxy collection install --offline` into a fresh directory
# for each ansible-core below (each in a venv that holds ansible-core and nothing else), then from
# that directory alone:
#   - ansible-doc lists every module, inventory, callback and role the checkout has, and renders
#     the documentation of each;
#   - ansible-playbook --syntax-check passes for site.yml and every playbook in playbooks/;
#   - the registry_pki action makes a CA and a certificate (cryptography, as ansible-core brings it).
# Every command after the venvs exist runs with proxies that go nowhere, so any attempt to reach
# Galaxy or another server fails the test.
#
#   tests/packaging/offline_install.sh                 # ansible-core 2.19.0 (the floor) and 2.21.5
#   AIRGAP_PACKAGING_TARGETS="python3.12=2.20.10" tests/packaging/offline_install.sh
#
# The venvs are made once (pip install from PyPI) and kept in
# ${AIRGAP_LAB_CACHE:-/var/cache/airgap-lab}/venvs/ansible-core-<version>-py<X.Y>; remove one to
# make it again.
set -euo pipefail
shopt -s inherit_errexit

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venvs=${AIRGAP_LAB_CACHE:-/var/cache/airgap-lab}/venvs
py312=$(ls -d "$HOME"/.pyenv/versions/3.12.*/bin/python 2>/dev/null | sort -V | tail -n 1 || true)
# <python>=<ansible-core version>: the floor of meta/runtime.yml (ansible-core 2.19 needs Python
# 3.11 or later) and the newest release tested (2.21 needs 3.12).
targets=${AIRGAP_PACKAGING_TARGETS:-"python3.11=2.19.0 ${py312:-python3.12}=2.21.5"}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$SECONDS

say() { printf 'offline_install: %s\n' "$*"; }
fail() { printf 'offline_install: FAILED: %s\n' "$*" >&2; exit 1; }

# A venv with ansible-core==version and its requirements only, made in a temporary directory
# and renamed into place, so an interrupted install never passes for a cached one.
venv_for() {
  local python=$1 version=$2 pyver dir
  pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  dir=$venvs/ansible-core-$version-py$pyver
  if [[ ! -x $dir/bin/ansible-galaxy ]]; then
    say "making $dir (pip install ansible-core==$version)" >&2
    mkdir -p "$venvs"
    rm -rf "$dir.partial"
    command -v "$python" > /dev/null || fail "no $python for ansible-core $version"
    "$python" -m venv "$dir.partial"
    "$dir.partial/bin/python" -m pip install -q --disable-pip-version-check "ansible-core==$version" >&2
    rm -rf "$dir"
    mv "$dir.partial" "$dir"
    # A venv's scripts name its directory: fix the shebangs after the rename.
    grep -rlI --null "$dir.partial" "$dir/bin" | xargs -0 -r sed -i "s|$dir.partial|$dir|g"
  fi
  printf '%s\n' "$dir"
}

# What the checkout has, by plugin type: file names without .py (doc-only modules included).
on_disk() {
  find "$repo/plugins/$1" -maxdepth 1 -name '*.py' ! -name '__init__.py' -printf '%f\n' | sed 's/\.py$//' | sort
}

# The venvs first: the only step that may reach the network (PyPI), and only the first time.
venv_list=() version_list=()
for target in $targets; do
  venv_list+=("$(venv_for "${target%=*}" "${target##*=}")")
  version_list+=("${target##*=}")
done
say "venvs ready after $((SECONDS - started)) s"

# From here on nothing may need the network, and no configuration of the checkout or the user
# applies: an empty ansible.cfg, the install directory as the only collections path.
export http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9
export HTTPS_PROXY=http://127.0.0.1:9 no_proxy='' NO_PROXY='' ANSIBLE_NOCOLOR=1 PAGER=cat

first=1
for i in "${!venv_list[@]}"; do
  venv=${venv_list[$i]}
  version=${version_list[$i]}
  bin=$venv/bin
  got=$("$bin/python" -c 'from ansible.release import __version__; print(__version__)')
  [[ $got == "$version" ]] || fail "$venv has ansible-core $got, not $version"
  pkgs=$("$bin/python" -m pip list --format=freeze --disable-pip-version-check | sed 's/==.*//' | sort | tr '\n' ' ')
  [[ $pkgs != *ansible\ * && $pkgs != *ansible-lint* ]] || fail "$venv holds more than ansible-core: $pkgs"

  dir=$work/core-$version
  mkdir -p "$dir"
  : > "$dir/ansible.cfg"
  export ANSIBLE_CONFIG=$dir/ansible.cfg ANSIBLE_COLLECTIONS_PATH=$dir/collections
  export ANSIBLE_LOCAL_TEMP=$dir/tmp ANSIBLE_HOME=$dir/home
  cd "$dir"

  if [[ $first == 1 ]]; then
    "$bin/ansible-galaxy" collection build --output-path "$work/dist" "$repo" > "$work/build.log" \
      || { cat "$work/build.log"; fail "ansible-galaxy collection build"; }
    tarball=$(ls "$work"/dist/airgap-kubernetes-*.tar.gz)
    # galaxy.yml's build_ignore keeps the checkout's own things out.
    members=$(tar -tzf "$tarball")
    leaked=$(grep -E '^(\./)?(\.venv|\.git|\.ansible|\.cache|\.ci|collections|tests|lab|molecule|bench)(/|$)|\.tar\.gz$|__pycache__|\.pyc$' \
      <<< "$members" || true)
    [[ -z $leaked ]] || fail "the tarball holds what build_ignore should keep out: $(head -n 5 <<< "$leaked")"
    say "built $(basename "$tarball"): $(wc -l <<< "$members") members, $(du -k "$tarball" | cut -f1) KiB"
    first=0
  fi

  "$bin/ansible-galaxy" collection install --offline "$tarball" -p "$dir/collections" > "$dir/install.log" 2>&1 \
    || { cat "$dir/install.log"; fail "ansible-galaxy collection install --offline with ansible-core $version"; }
  root=$dir/collections/ansible_collections/airgap/kubernetes
  [[ -f $root/MANIFEST.json ]] || fail "nothing installed at $root"
  installed=$("$bin/ansible-galaxy" collection list -p "$dir/collections" --format json 2>/dev/null \
    | "$bin/python" -c 'import json, sys
print(" ".join(sorted(n for p, c in json.load(sys.stdin).items() if p.startswith(sys.argv[1]) for n in c)))' "$dir/collections")
  [[ $installed == airgap.kubernetes ]] || fail "installed collections are '$installed', not airgap.kubernetes alone"

  # Every plugin and role of the checkout is listed, and its documentation renders (an action
  # plugin's through the module file of its name).
  undocumented=$(comm -23 <(on_disk action) <(on_disk modules))
  [[ -z $undocumented ]] || fail "action plugins without a module file for their documentation: $undocumented"
  for type in module inventory callback role; do
    case $type in
      module) want=$(on_disk modules) ;;
      role) want=$(find "$repo/roles" -mindepth 3 -maxdepth 3 -path '*/meta/argument_specs.yml' \
                     | awk -F/ '{print $(NF-2)}' | sort) ;;
      *) want=$(on_disk "$type") ;;
    esac
    listed=$("$bin/ansible-doc" -t "$type" -l airgap.kubernetes --json 2> "$dir/doc-$type.err" \
      | "$bin/python" -c 'import json, sys; print("\n".join(sorted(n.split(".")[-1] for n in json.load(sys.stdin))))') \
      || { cat "$dir/doc-$type.err"; fail "ansible-doc -t $type -l airgap.kubernetes"; }
    [[ $listed == "$want" ]] || fail "ansible-doc -t $type lists [$(echo $listed)], the checkout has [$(echo $want)]"
    names=$(sed 's/^/airgap.kubernetes./' <<< "$want")
    # shellcheck disable=SC2086  # one name per word
    "$bin/ansible-doc" -t "$type" --json $names > "$dir/doc-$type.json" 2> "$dir/doc-$type.err" \
      || { cat "$dir/doc-$type.err"; fail "ansible-doc -t $type of each"; }
    # (ansible-core 2.21 warns that its own internal collection has no version: not ours.)
    if grep -E 'ERROR|WARNING' "$dir/doc-$type.err" | grep -v '/ansible/_internal/ansible_collections/'
    then fail "ansible-doc -t $type warned"; fi
    rendered=$("$bin/python" -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$dir/doc-$type.json")
    [[ $rendered == $(wc -l <<< "$want") ]] || fail "ansible-doc -t $type rendered $rendered of $(wc -l <<< "$want")"
  done

  # site.yml (by path, as a user of the installed collection runs it) and every playbook of
  # playbooks/ by name, in one run.
  playbooks=$(find "$repo/playbooks" -maxdepth 1 -name '*.yml' -printf 'airgap.kubernetes.%f\n' | sed 's/\.yml$//' | sort)
  # shellcheck disable=SC2086
  "$bin/ansible-playbook" -i localhost, --syntax-check "$root/site.yml" $playbooks > "$dir/syntax.log" 2>&1 \
    || { cat "$dir/syntax.log"; fail "ansible-playbook --syntax-check with ansible-core $version"; }
  # (localhost is the only host: the plays' groups match nothing, which is all Ansible may warn about.)
  if grep -E '\[(WARNING|ERROR|DEPRECATION WARNING)\]' "$dir/syntax.log" | grep -v 'Could not match supplied host pattern'
  then fail "--syntax-check warned"; fi

  # The controller's cryptography, as this ansible-core brings it, makes the registry's PKI.
  "$bin/ansible" localhost -c local -m airgap.kubernetes.registry_pki -e "ansible_python_interpreter=$bin/python" \
    -a "path=$dir/pki common_name=10.0.0.5 subject_alt_names=IP:10.0.0.5,DNS:cp1" > "$dir/pki.log" 2>&1 \
    || { cat "$dir/pki.log"; fail "airgap.kubernetes.registry_pki with ansible-core $version"; }
  [[ -s $dir/pki/ca.crt && -s $dir/pki/registry.crt ]] || fail "registry_pki made no certificate"

  say "ansible-core $version ($("$bin/python" -c 'import platform; print(platform.python_version())'), cryptography" \
      "$("$bin/python" -c 'import cryptography; print(cryptography.__version__)')): installed offline;" \
      "$(wc -l <<< "$(on_disk modules)") modules, $(on_disk inventory | wc -l) inventory, $(on_disk callback | wc -l) callback," \
      "$(wc -l <<< "$want") roles documented; $(wc -w <<< "$playbooks")+1 playbooks pass --syntax-check; registry_pki ran"
  cd "$repo"
done
say "passed in $((SECONDS - started)) s"
