#!/usr/bin/env python3
"""Benchmark the lab mirror build: wall time, peak memory of any one process, disk used.

  bench/lab_mirror.py          warm: the mirror as it is (should build nothing)
  bench/lab_mirror.py --cold   cold: empty lab cache AND empty Go module/build caches in a
                               scratch directory (the first `make lab-mirror` on a new machine)

Prints one line per figure. Peak memory is the largest resident set of a single process in the
build (GNU time's "Maximum resident set size" of the child tree's biggest process): the Go
linker on kubelet is the usual winner.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def du(path: Path) -> int:
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True)
    return int(out.stdout.split()[0]) if out.returncode == 0 else 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold", action="store_true")
    args = parser.parse_args()
    env = dict(os.environ)
    scratch = None
    if args.cold:
        scratch = Path(tempfile.mkdtemp(prefix="airgap-bench-"))
        env.update(AIRGAP_LAB_CACHE=str(scratch / "lab"), GOMODCACHE=str(scratch / "gomod"),
                   GOCACHE=str(scratch / "gocache"), AIRGAP_LAB_HTTP_PORT="18180",
                   AIRGAP_LAB_REGISTRY_PORT="15100")
    cache = Path(env.get("AIRGAP_LAB_CACHE", "/var/cache/airgap-lab"))
    start = time.monotonic()
    run = subprocess.run(["/usr/bin/time", "-v", sys.executable, str(REPO / "lab/mirror/build.py")],
                         env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    if run.returncode != 0:
        sys.exit(run.stdout[-3000:] + run.stderr[-3000:])
    peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1))
    print(f"mode: {'cold' if args.cold else 'warm'}")
    print(f"wall_seconds: {wall:.0f}")
    print(f"peak_rss_mib: {peak_kib / 1024:.0f}")
    print(f"lab_cache_mib: {du(cache) / 2**20:.0f}")
    print(f"mirror_files_mib: {du(cache / 'mirror' / 'files') / 2**20:.0f}")
    print(f"mirror_registry_mib: {du(cache / 'mirror' / 'registry') / 2**20:.0f}")
    if scratch:
        print(f"go_module_cache_mib: {du(scratch / 'gomod') / 2**20:.0f}")
        print(f"go_build_cache_mib: {du(scratch / 'gocache') / 2**20:.0f}")
        subprocess.run([sys.executable, str(REPO / "lab/mirror/serve.py"), "down"], env=env)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
