#!/usr/bin/env bash
# Install the machine packages the lab needs (idempotent: a second run installs nothing).
# Go comes with this machine kind (/usr/local/go); Go modules come from the module proxy.
set -euo pipefail

PACKAGES=(
  podman            # runs the lab hosts (rootful, runc)
  runc
  debootstrap       # builds the hosts' OS and the images' Debian userland
  iproute2
  iptables          # the machine rejects connections from the lab hosts (labhosts.py)
  openssh-client    # the controller reaches hosts over SSH, as on bare metal
  rsync
  libseccomp-dev    # runc is built static against libseccomp, as upstream's release is
  gcc
  make
  pigz
  curl
  openssl           # the unit tests make a TLS certificate for a loopback registry
  gpgv              # the bundle checks the Debian archive's signed Release files (InRelease)
  debian-archive-keyring  # ... against Debian's archive keys
  gnupg             # the unit tests sign a loopback archive's InRelease with a key of their own
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "lab/deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v go >/dev/null || export PATH="/usr/local/go/bin:$PATH"
command -v go >/dev/null || { echo "lab/deps.sh: Go is needed (expected at /usr/local/go)" >&2; exit 1; }
