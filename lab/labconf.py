"""Settings shared by the lab's scripts: one place for names, paths and ports.

Every value can be overridden from the environment so that a second lab (or CI) can run beside
the first without touching the code.
"""
import os
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
