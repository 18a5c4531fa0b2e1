"""Settings shared by the lab's scripts: one place for names, paths, ports and versions.

Every value can be overridden from the environment so that a second lab (or CI) can run beside
the first without touching the code.

The versions the lab builds are the collection's: its release table
(plugins/plugin_utils/releases.py, loaded by path) says which version of each component a
release ships; lab/versions.yml only says what the lab builds each from (the Go module, and which
rows of the table pin it) and pins the lab's own tooling.

  labconf.py kubernetes-version   print the Kubernetes version the lab builds (the Makefile's)
"""
from __future__ import annotations

import functools
import importlib.util
import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAB = REPO / "lab"

# Everything built or downloaded lives here, outside the git tree, keyed by versions.
CACHE = Path(os.environ.get("AIRGAP_LAB_CACHE", "/var/cache/airgap-lab"))
# Per-run state (pid files, generated keys, the inventory) of the lab that is up now.
STATE = Path(os.environ.get("AIRGAP_LAB_STATE", str(CACHE / "state")))

# Every podman object the lab creates carries this label; `make lab-down` removes all of them.
LABEL = os.environ.get("AIRGAP_LAB_LABEL", "airgap.kubernetes.lab=1")

# The "connected world": servers on the machine's loopback only.
MIRROR_HOST = "127.0.0.1"
MIRROR_HTTP_PORT = int(os.environ.get("AIRGAP_LAB_HTTP_PORT", "18080"))
MIRROR_REGISTRY_PORT = int(os.environ.get("AIRGAP_LAB_REGISTRY_PORT", "15000"))

# The "air-gapped site": a podman --internal network.
NETWORK = os.environ.get("AIRGAP_LAB_NETWORK", "airgap-lab")
SUBNET = os.environ.get("AIRGAP_LAB_SUBNET", "10.213.7.0/24")
HOST_COUNT = int(os.environ.get("AIRGAP_LAB_HOSTS", "3"))
HOST_PREFIX = os.environ.get("AIRGAP_LAB_HOST_PREFIX", "lab")


# --- versions -----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def collection_module(name: str):
    """A controller-side module of the collection (plugins/plugin_utils) that imports nothing
    from Ansible or the collection, loaded by path: the lab uses the collection's own table and
    code without installing the collection."""
    path = REPO / "plugins" / "plugin_utils" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"airgap_collection_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def default_release() -> str:
    """The release the lab builds: the table's default (its newest) Kubernetes version."""
    return collection_module("releases").DEFAULT_KUBERNETES_VERSION


def go_version(version: str) -> str:
    """The Go module version (the upstream git tag) of a version as the release table writes it.

    The table writes versions as upstream names its files and images: containerd 2.4.2 and
    registry 3.0.0 are the tags v2.4.2 and v3.0.0; etcd's image 3.7.0-0 is build 0 of the image
    of etcd v3.7.0 (kubeadm's image tags carry that revision, Go versions do not).
    """
    tag = version if version.startswith("v") else "v" + version
    return re.sub(r"-\d+$", "", tag)


def lab_table() -> dict:
    """lab/versions.yml as it is written."""
    import yaml  # here, not at the top: `labconf.py kubernetes-version` needs only the standard library

    return yaml.safe_load((LAB / "versions.yml").read_text())


def _pinned(release: dict, kind: str, name: str) -> str:
    """The version one row of a release pins: an artifact's ``version``, an image's ``tag`` (the
    release's images and its CNIs'), a CNI's ``version``."""
    if kind == "artifacts":
        rows = [r["version"] for r in release["artifacts"] if r["name"] == name]
    elif kind == "images":
        images = release["images"] + [i for cni in release["cni"].values() for i in cni["images"]]
        rows = [r["tag"] for r in images if r["name"] == name]
    else:
        rows = [release["cni"][name]["version"]] if name in release["cni"] else []
    if len(rows) != 1:
        raise ValueError(f"lab/versions.yml: the release table has {len(rows)} {kind} rows named {name!r}")
    return rows[0]


def lab_versions(release: str | None = None) -> dict[str, dict]:
    """What the lab builds for one release of the table (default: the newest), by component:
    ``module`` (its Go module; absent for the lab's own programs), ``version`` (the Go module
    version, or our program's version as the table writes it) and ``image_tag`` (the tag of its
    images) where it has images. Every row of the table a component names must agree: the lab
    builds one version of each component per release."""
    releases = collection_module("releases")
    rows = releases.release(release or default_release())
    versions = {}
    for component, lab in lab_table()["components"].items():
        claims = [(kind, name) for kind in ("artifacts", "images", "cni") for name in lab.get(kind, [])]
        if "version" in lab or not claims:
            raise ValueError(f"lab/versions.yml: {component}'s version is the release table's "
                             "(plugins/plugin_utils/releases.py): name its rows, not a version")
        pinned = {(kind, name): _pinned(rows, kind, name) for kind, name in claims}
        built = {go_version(v) if "module" in lab else v for v in pinned.values()}
        tags = {v for (kind, name), v in pinned.items() if kind == "images"}
        if len(built) != 1 or len(tags) > 1:
            raise ValueError(f"lab/versions.yml: {component}'s rows of {release or default_release()} disagree, "
                             f"and the lab builds one version of it: {pinned}")
        row = {"module": lab["module"]} if "module" in lab else {}
        row["version"] = built.pop()
        if tags:
            row["image_tag"] = tags.pop()
        versions[component] = row
    return versions


def lab_tools() -> dict[str, dict]:
    """The lab's own tooling, pinned in lab/versions.yml (not in the collection's table)."""
    return lab_table()["tools"]


def main(argv: list[str]) -> None:
    if argv != ["kubernetes-version"]:
        raise SystemExit(__doc__.rsplit("\n\n", 1)[-1])
    print(default_release())


if __name__ == "__main__":
    main(sys.argv[1:])
