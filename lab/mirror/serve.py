#!/usr/bin/env python3
"""Serve the lab mirror, the "connected world", on this machine's loopback only.

  serve.py up      start (or keep) the file server and the image registry
  serve.py down    stop them
  serve.py status  say what runs

Files: http://127.0.0.1:$AIRGAP_LAB_HTTP_PORT/<upstream host>/<upstream path> (dl.k8s.io/...,
github.com/...). Images: 127.0.0.1:$AIRGAP_LAB_REGISTRY_PORT/<upstream registry>/<repository>
(registry.k8s.io/kube-apiserver, docker.io/library/registry, quay.io/calico/node, ...).
Both servers are daemons with pid files in the lab state directory; `up` replaces stale ones.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import labconf  # noqa: E402

MIRROR = labconf.CACHE / "mirror"
FILES = MIRROR / "files"
REGISTRY_DATA = MIRROR / "registry"
REGISTRY_BIN = MIRROR / "tools" / "registry"  # build.py installs the registry it built here
REGISTRY = f"{labconf.MIRROR_HOST}:{labconf.MIRROR_REGISTRY_PORT}"
HTTP = f"{labconf.MIRROR_HOST}:{labconf.MIRROR_HTTP_PORT}"


def _pidfile(name: str) -> Path:
    return labconf.STATE / f"mirror-{name}.pid"


def _alive(name: str) -> int | None:
    try:
        pid = int(_pidfile(name).read_text())
        os.kill(pid, 0)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if str(MIRROR).encode() in cmdline else None


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((labconf.MIRROR_HOST, port)) == 0


def _start(name: str, cmd: list[str], port: int, env: dict | None = None) -> None:
    if _alive(name) and _answers(port):
        return
    _stop(name)
    if _answers(port):
        raise SystemExit(f"lab-mirror: port {labconf.MIRROR_HOST}:{port} is taken by another "
                         f"program; free it or set AIRGAP_LAB_{name.upper()}_PORT")
    labconf.STATE.mkdir(parents=True, exist_ok=True)
    log = open(labconf.STATE / f"mirror-{name}.log", "ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                            start_new_session=True, env=env)
    _pidfile(name).write_text(str(proc.pid))
    for _ in range(100):
        if _answers(port):
            print(f"lab-mirror: {name} serving on {labconf.MIRROR_HOST}:{port} (pid {proc.pid})")
            return
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise SystemExit(f"lab-mirror: {name} did not start; see {labconf.STATE}/mirror-{name}.log")


def _stop(name: str) -> None:
    pid = _alive(name)
    if pid:
        os.killpg(pid, signal.SIGTERM)
        for _ in range(50):
            if not _alive(name):
                break
            time.sleep(0.1)
        else:
            os.killpg(pid, signal.SIGKILL)
        print(f"lab-mirror: stopped {name} (pid {pid})")
    _pidfile(name).unlink(missing_ok=True)


def registry_config() -> Path:
    config = MIRROR / "registry-config.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: warn, accesslog: {disabled: true}}\n"
        f"storage:\n  filesystem: {{rootdirectory: {REGISTRY_DATA}}}\n  delete: {{enabled: true}}\n"
        f"http:\n  addr: {REGISTRY}\n"
    )
    return config


def up() -> None:
    if not REGISTRY_BIN.exists():
        raise SystemExit(f"lab-mirror: {REGISTRY_BIN} is missing: run `make lab-mirror` first")
    FILES.mkdir(parents=True, exist_ok=True)
    REGISTRY_DATA.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OTEL_TRACES_EXPORTER="none")
    _start("registry", [str(REGISTRY_BIN), "serve", str(registry_config())],
           labconf.MIRROR_REGISTRY_PORT, env)
    _start("http", [sys.executable, "-m", "http.server", "--bind", labconf.MIRROR_HOST,
                    "--directory", str(FILES), str(labconf.MIRROR_HTTP_PORT)],
           labconf.MIRROR_HTTP_PORT)


def down() -> None:
    _stop("http")
    _stop("registry")


def status() -> int:
    ok = True
    for name, port in (("http", labconf.MIRROR_HTTP_PORT), ("registry", labconf.MIRROR_REGISTRY_PORT)):
        pid = _alive(name)
        running = bool(pid) and _answers(port)
        ok &= running
        print(f"{name:9} {'up' if running else 'down':5} {labconf.MIRROR_HOST}:{port} pid={pid}")
    return 0 if ok else 1


if __name__ == "__main__":
    action = sys.argv[1] if len(sys.argv) > 1 else "status"
    if action == "up":
        up()
    elif action == "down":
        down()
    elif action == "status":
        sys.exit(status())
    else:
        sys.exit(__doc__)
