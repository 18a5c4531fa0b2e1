"""Debian root filesystems for the lab, built with debootstrap and cached.

One function, `rootfs_tar()`, returns a tarball of a Debian userland. The tarball is keyed by
a hash of what goes into it (suite, variant, packages, components, architecture), so a second
call with the same arguments only stats a file. Users in the lab:

- lab/hosts/labhosts.py: the hosts' OS (systemd, sshd, python3 ...), imported into podman;
- the image builders: a minimal userland (iptables, ipset, nftables, conntrack ...) for
  container images.

The mirror is http://deb.debian.org/debian unless AIRGAP_LAB_DEBIAN_MIRROR says otherwise. The
mirror is not part of the key: the same suite from another mirror gives the same packages.
Packages debootstrap downloads are kept in CACHE/debian/debs and reused by later builds.

Command line, for a person or a Makefile:
    python3 lab/debian.py bookworm --name kube-proxy iptables ipset nftables conntrack
prints the tarball's path.
"""
import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import labconf  # noqa: E402

MIRROR = os.environ.get("AIRGAP_LAB_DEBIAN_MIRROR", "http://deb.debian.org/debian")
ROOT = labconf.CACHE / "debian"
# Bump when the way a tarball is made changes, so that old cached tarballs are not reused.
RECIPE = 2


def _arch():
    return subprocess.run(["dpkg", "--print-architecture"], check=True, text=True,
                          capture_output=True).stdout.strip()


def rootfs_key(suite, packages=(), variant="minbase", components=("main",), arch=None):
    """The hash that names a rootfs: everything that changes its content, nothing else."""
    spec = {
        "recipe": RECIPE,
        "suite": suite,
        "variant": variant,
        "packages": sorted(set(packages)),
        "components": list(components),
        "arch": arch or _arch(),
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16], spec


def rootfs_tar(suite, packages=(), variant="minbase", name="rootfs", components=("main",),
               arch=None, log=print):
    """Return the path of a tarball of a debootstrapped Debian `suite`; build it if missing.

    suite: "bookworm", "trixie" ...; packages: extra packages (debootstrap --include);
    variant: debootstrap variant ("minbase", "buildd", or "" for the default);
    name: a readable prefix of the file name (not part of the key).
    The tarball has numeric owners and no apt lists or .deb caches; a sidecar .json
    next to it records the spec it was built from.
    """
    key, spec = rootfs_key(suite, packages, variant, components, arch)
    ROOT.mkdir(parents=True, exist_ok=True)
    out = ROOT / f"{name}-{suite}-{variant or 'default'}-{key}.tar"
    if out.exists():
        return out
    # One builder at a time per key; a second caller waits and then finds the tarball.
    with open(ROOT / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if out.exists():
            return out
        _build(out, spec, log)
    return out


def _build(out, spec, log):
    debs = ROOT / "debs"
    debs.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=ROOT))
    target = work / "rootfs"
    cmd = ["debootstrap", "--arch", spec["arch"], "--cache-dir", str(debs),
           "--components", ",".join(spec["components"])]
    if spec["variant"]:
        cmd += ["--variant", spec["variant"]]
    if spec["packages"]:
        cmd += ["--include", ",".join(spec["packages"])]
    cmd += [spec["suite"], str(target), MIRROR]
    log(f"debian: debootstrap {spec['suite']} ({spec['variant'] or 'default'}, "
        f"{len(spec['packages'])} extra packages) from {MIRROR} -> {out.name}")
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            logfile = target / "debootstrap" / "debootstrap.log"
            tail = logfile.read_text(errors="replace")[-3000:] if logfile.exists() else ""
            raise RuntimeError(f"debootstrap {spec['suite']} failed (rc={proc.returncode}):\n"
                               f"{proc.stdout[-3000:]}\n{tail}")
        _tidy(target, spec)
        tmp = out.with_suffix(".tar.part")
        subprocess.run(["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*",
                        "-C", str(target), "-cf", str(tmp), "."], check=True)
        out.with_suffix(".json").write_text(json.dumps(spec, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"debian: built {out} ({out.stat().st_size >> 20} MiB) "
        f"in {time.monotonic() - started:.0f}s")


def _tidy(target, spec):
    """Leave a clean userland: apt pointed at the mirror, no lists or .debs, no resolv.conf."""
    (target / "etc/apt/sources.list").write_text(
        f"deb {MIRROR} {spec['suite']} {' '.join(spec['components'])}\n")
    for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
        d = target / sub
        if d.is_dir():
            for p in d.iterdir():
                if p.is_file() and p.name != "lock":
                    p.unlink()
    for p in ("etc/resolv.conf", "etc/hostname"):
        q = target / p
        if q.is_file() or q.is_symlink():
            q.unlink()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("suite")
    ap.add_argument("packages", nargs="*")
    ap.add_argument("--variant", default="minbase")
    ap.add_argument("--name", default="rootfs")
    args = ap.parse_args(argv)
    print(rootfs_tar(args.suite, args.packages, args.variant, args.name,
                     log=lambda m: print(m, file=sys.stderr)))


if __name__ == "__main__":
    main()
