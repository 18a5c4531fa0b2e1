"""Build Go programs from the Go module proxy with a go.mod of ours.

Each build gets a work directory in the lab cache, named by component and version, holding a
generated go.mod that requires the upstream module (plus the replace lines upstream's own go.mod
would have applied, which Go ignores in a dependency) and a tools.go that imports the commands, so
`go mod tidy` resolves the exact dependency graph upstream pinned. Nothing upstream is copied into
the repository; the module cache and build cache are Go's own, outside the repository.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import labconf  # noqa: E402

GOSRC = labconf.CACHE / "gosrc"
GO_VERSION_DIRECTIVE = "1.26"


def go_env(cgo: bool = False) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CGO_ENABLED="1" if cgo else "0",
        GOOS="linux",
        GOARCH="amd64",
        GOTOOLCHAIN="local",  # never download a toolchain: the Go this machine has builds it all
        GOFLAGS="-buildvcs=false -mod=mod",
    )
    env["PATH"] = "/usr/local/go/bin:" + env.get("PATH", "")
    return env


def run(cmd: list[str], cwd: Path | None = None, env: dict | None = None, capture: bool = False,
        quiet: bool = False) -> str:
    """Run a Go command; `quiet` keeps its chatter (module downloads) out unless it fails."""
    result = subprocess.run(cmd, cwd=cwd, env=env or go_env(), text=True,
                            stdout=subprocess.PIPE if capture else None,
                            stderr=subprocess.PIPE if quiet else None)
    if result.returncode != 0:
        if quiet:
            sys.stderr.write(result.stderr)
        raise SystemExit(f"lab-mirror: command failed ({result.returncode}) in {cwd}: {' '.join(cmd)}")
    return result.stdout if capture else ""


def module_info(module: str, version: str) -> dict:
    """`go mod download -json` of one module: its directory, go.mod path and VCS origin."""
    tmp = GOSRC / "_download"
    tmp.mkdir(parents=True, exist_ok=True)
    if not (tmp / "go.mod").exists():
        (tmp / "go.mod").write_text(f"module airgap.lab/download\n\ngo {GO_VERSION_DIRECTIVE}\n")
    out = run(["go", "mod", "download", "-json", f"{module}@{version}"], cwd=tmp, capture=True)
    info = json.loads(out)
    if info.get("Error"):
        raise SystemExit(f"lab-mirror: the Go module proxy has no {module}@{version}: {info['Error']}")
    return info


def upstream_commit(info: dict) -> str:
    """The commit upstream tagged, when the proxy recorded it; else a placeholder of the same shape."""
    return (info.get("Origin") or {}).get("Hash", "0" * 40)


def staging_replaces(info: dict, version: str) -> list[str]:
    """Kubernetes' go.mod points its staging modules at ./staging/src; a dependant must pin them
    to the published k8s.io/<m> v0.<minor>.<patch> that the release tagged."""
    staging_version = "v0." + version.lstrip("v").split(".", 1)[1]
    gomod = Path(info["GoMod"]).read_text()
    mods = re.findall(r"^\s*(k8s\.io/[\w.-]+) => \./staging/src/", gomod, re.M)
    if not mods:
        raise SystemExit(f"lab-mirror: no staging replace lines in {info['GoMod']}")
    return [f"{m} => {m} {staging_version}" for m in mods]


def build(name: str, requires: dict[str, str], packages: list[str], out: Path, *,
          replaces: list[str] = (), ldflags: list[str] = (), tags: list[str] = (),
          cgo: bool = False, src: Path | None = None) -> None:
    """Build `packages` (import paths, or "." for our own source in `src`) into directory `out`."""
    work = GOSRC / name
    work.mkdir(parents=True, exist_ok=True)
    gomod = [f"module airgap.lab/build/{re.sub(r'[^A-Za-z0-9._-]', '-', name)}", "",
             f"go {GO_VERSION_DIRECTIVE}", "", "require ("]
    gomod += [f"\t{m} {v}" for m, v in requires.items()] + [")"]
    if replaces:
        gomod += ["", "replace ("] + [f"\t{r}" for r in replaces] + [")"]
    gomod_text = "\n".join(gomod) + "\n"
    if src is not None:
        for f in src.glob("*.go"):
            shutil.copyfile(f, work / f.name)
    else:
        imports = "\n".join(f'\t_ "{p}"' for p in packages)
        (work / "tools.go").write_text(f"//go:build tools\n\npackage tools\n\nimport (\n{imports}\n)\n")
    stamp = work / ".tidy"
    if not stamp.exists() or stamp.read_text() != gomod_text:
        (work / "go.mod").write_text(gomod_text)
        run(["go", "mod", "tidy"], cwd=work, quiet=True)
        stamp.write_text(gomod_text)
    out.mkdir(parents=True, exist_ok=True)
    # Our own programs are named after their source directory, upstream's after their package.
    target = out / src.name if src is not None else Path(str(out) + "/")
    cmd = ["go", "build", "-trimpath", "-o", str(target) + ("" if src is not None else "/")]
    if tags:
        cmd += ["-tags", " ".join(tags)]
    cmd += ["-ldflags", " ".join(["-s", "-w", *ldflags])]
    cmd += packages
    run(cmd, cwd=work, env=go_env(cgo))


def main_packages(info: dict, subdir: str) -> list[str]:
    """Import paths of the main packages under `subdir` of a downloaded module (linux ones)."""
    root = Path(info["Dir"])
    found = []
    for d in sorted((root / subdir).rglob("*")):
        if not d.is_dir() or "windows" in d.relative_to(root).parts or "testdata" in d.parts:
            continue
        if any("\npackage main\n" in "\n" + f.read_text(errors="replace") for f in d.glob("*.go")
               if not f.name.endswith("_test.go")):
            found.append(f"{info['Path']}/{d.relative_to(root).as_posix()}")
    return found
