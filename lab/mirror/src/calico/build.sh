#!/usr/bin/env bash
# Build Calico's Linux binaries (calico-node, CNI plugin, kube-controllers) from the
# Go module proxy. See README.md next to this file for the facts behind each step.
#
# usage: build.sh OUTDIR
# env:   CALICO_MODULE_VERSION  module version of github.com/projectcalico/calico
#                               (default: the only one the proxy serves, see README)
#        CALICO_RELEASE         release name stamped into the binaries (default v3.28.5)
#        CALICO_API_DIR         optional: local directory holding the nested module
#                               github.com/projectcalico/api at the same commit. The
#                               proxy does not serve that module, so without it the
#                               build stops with exit code 3 (see README "Blocker").
#        LAB_CACHE              cache dir for our go.mod (default ~/.cache/airgap-lab)
#
# Writes nothing into the repo. Idempotent: a finished build with the same inputs is
# not redone. Static binaries, CGO_ENABLED=0 (felix builds its BPF code as !cgo stubs;
# the iptables dataplane does not need cgo).
set -euo pipefail

OUT=${1:?usage: build.sh OUTDIR}
VER=${CALICO_MODULE_VERSION:-v1.11.0-cni-plugin.0.20250813170300-a0db560f0520}
REL=${CALICO_RELEASE:-v3.28.5}
CACHE=${LAB_CACHE:-$HOME/.cache/airgap-lab}
WORK=$CACHE/calico-build-$VER
MOD=github.com/projectcalico/calico
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local}

mkdir -p "$OUT" "$WORK"
OUT=$(cd "$OUT" && pwd)
BINS="calico-node calico calico-ipam install kube-controllers check-status"
STAMP="$OUT/.calico-build-stamp"
WANT="$VER $REL api=${CALICO_API_DIR:-proxy} $(go env GOVERSION)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  ok=1; for b in $BINS; do [ -x "$OUT/$b" ] || ok=0; done
  if [ $ok = 1 ]; then echo "calico $REL ($VER): up to date in $OUT"; exit 0; fi
fi

# 1. the calico module itself, and its replace block (ignored when it is a dependency).
SRCDIR=$(go mod download -json "$MOD@$VER" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
[ -d "$SRCDIR" ] || { echo "cannot download $MOD@$VER" >&2; exit 2; }
REPLACES=$(sed -n '/^replace (/,/^)/p' "$SRCDIR/go.mod" | sed '1d;$d' | grep -v '^\s*//' | grep -v '=> \./api' | grep -v '^\s*$')

# 2. github.com/projectcalico/api: upstream replaces it with ./api, a nested module
#    that module zips leave out, and the proxy serves no version of it.
if [ -n "${CALICO_API_DIR:-}" ]; then
  [ -f "$CALICO_API_DIR/go.mod" ] || { echo "CALICO_API_DIR has no go.mod" >&2; exit 2; }
  APIREPL="github.com/projectcalico/api => $(cd "$CALICO_API_DIR" && pwd)"
else
  echo "github.com/projectcalico/api is not served by the module proxy:" >&2
  go mod download -json github.com/projectcalico/api@latest 2>&1 | sed 's/^/  /' >&2 || true
  echo "set CALICO_API_DIR to a copy of the api module (see README, Blocker); stopping." >&2
  exit 3
fi

# 3. hcsshim v0.11.8 (pulled in by the Windows CNI dataplane package, compiled on Linux
#    too) is not served; v0.11.7 is. Only pin it when the required one is missing.
HCS=""
if ! go mod download github.com/Microsoft/hcsshim@v0.11.8 >/dev/null 2>&1; then
  HCS="github.com/Microsoft/hcsshim => github.com/Microsoft/hcsshim v0.11.7"
fi

GOVER=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$SRCDIR/go.mod")
cat > "$WORK/go.mod.new" <<GOMOD
module lab.local/calico-build

go $GOVER

require $MOD $VER

replace (
	$APIREPL
	${HCS}
$REPLACES
)
GOMOD
cat > "$WORK/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "github.com/projectcalico/calico/cni-plugin/cmd/calico"
	_ "github.com/projectcalico/calico/cni-plugin/cmd/install"
	_ "github.com/projectcalico/calico/kube-controllers/cmd/check-status"
	_ "github.com/projectcalico/calico/kube-controllers/cmd/kube-controllers"
	_ "github.com/projectcalico/calico/node/cmd/calico-node"
)
GO
if ! cmp -s "$WORK/go.mod.new" "$WORK/go.mod"; then
  mv "$WORK/go.mod.new" "$WORK/go.mod"; rm -f "$WORK/go.sum"
  # upstream's go.sum pins the same versions; start from it, then let tidy add ours.
  cp "$SRCDIR/go.sum" "$WORK/go.sum"; chmod u+w "$WORK/go.sum"
  (cd "$WORK" && go mod tidy)
else
  rm -f "$WORK/go.mod.new"
fi

# 4. build, one package at a time (2-core machines).
COMMIT=${VER##*-}
X="-X $MOD/node/pkg/lifecycle/startup.VERSION=$REL"
X="$X -X $MOD/node/buildinfo.GitVersion=$REL -X $MOD/node/buildinfo.GitRevision=$COMMIT"
X="$X -X $MOD/felix/buildinfo.GitVersion=$REL -X $MOD/felix/buildinfo.GitRevision=$COMMIT"
X="$X -X main.VERSION=$REL"
build() { (cd "$WORK" && go build -trimpath -ldflags "-s -w $X" -o "$OUT/$1" "$2"); }
build calico-node      $MOD/node/cmd/calico-node
build calico           $MOD/cni-plugin/cmd/calico
cp -f "$OUT/calico" "$OUT/calico-ipam"   # upstream: the same binary, picked by argv[0]
build install          $MOD/cni-plugin/cmd/install
build kube-controllers $MOD/kube-controllers/cmd/kube-controllers
build check-status     $MOD/kube-controllers/cmd/check-status
echo "$WANT" > "$STAMP"
ls -l "$OUT"
