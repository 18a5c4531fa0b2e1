# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The end-to-end suite (issue 5) runs on the lab's real cluster, the one site.yml made from
$AIRGAP_LAB_CACHE/state/lab.cluster.yml (AIRGAP_E2E_CLUSTER_FILE overrides the path):

    .venv/bin/python -m pytest tests/e2e              # against the cluster that is up
    .venv/bin/python -m pytest tests/e2e -m "not disruptive"   # without restarting a host
    make e2e                                          # molecule: lab, site.yml twice, this, destroy

Fixtures (session scope unless said):
  cluster     the cluster file as the collection reads it (defaults filled, paths absolute), with
              name, version, path, config, hosts, control_planes, workers, registry_host,
              kubeconfig (<stateDir>/<name>/<name>.kubeconfig, written by site.yml)
  bom         the bundle's BOM (<bundle.path>/<archive>.bom.json), with bom_images / bom_digests
  kubectl     clusterlib.Kubectl: kubectl of the pinned release (from the lab mirror) with the
              cluster's kubeconfig; every call has a timeout
  lab_host    lab_host("lab-3") -> a testinfra host for a lab host (podman backend: the lab's
              view of its machines, independent of the product's SSH setup)
  namespace   (module) a fresh namespace per test module, deleted (and waited for) at the end
  images      the bundled images the tests run: hello (the sample app) and shell (kube-proxy's
              Debian-based image: bash, coreutils, getent)

The hooks only add to a run: the marker `disruptive` (tests that restart lab hosts run after all
others), a per-test deadline (marker e2e_timeout(seconds), default 900 s), and testinfra's
--ansible-inventory defaulting to the cluster file, so that a test using testinfra's `host`
fixture with testinfra_hosts = ["ansible://workers"] reaches the cluster's hosts over SSH,
under molecule or not, and --sudo on: the cluster file's SSH user need not be root (the lab's is
`debian`, with sudo), and the plays become root for each phase, so the suite's checks on hosts
run with sudo as they do.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import random
import shutil
import signal
import string
import sys

import pytest
import testinfra
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests"))
import collection  # noqa: E402  pylint: disable=wrong-import-position
from clusterlib import E2E_LABEL, Kubectl, KubectlError, wait_until  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, collection.collections_path())
# pylint: disable-next=wrong-import-position,wrong-import-order
from ansible_collections.airgap.kubernetes.plugins.plugin_utils import bundle as bundle_utils  # noqa: E402
# pylint: disable-next=wrong-import-position,wrong-import-order
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster import model as cluster_model  # noqa: E402
# pylint: disable-next=wrong-import-position,wrong-import-order
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.names import state_paths  # noqa: E402
# pylint: disable-next=wrong-import-position,wrong-import-order
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.validate import ClusterConfigError  # noqa: E402

LAB = os.environ.get("AIRGAP_LAB_CACHE", "/var/cache/airgap-lab")
CLUSTER_FILE = os.environ.get("AIRGAP_E2E_CLUSTER_FILE", os.path.join(LAB, "state", "lab.cluster.yml"))
DEFAULT_DEADLINE = 900


# --- hooks ----------------------------------------------------------------------------------------

def pytest_configure(config):
    config.addinivalue_line("markers", "disruptive: restarts lab hosts; runs after every other test")
    config.addinivalue_line("markers", "e2e_timeout(seconds): the test's deadline (default %d s)"
                            % DEFAULT_DEADLINE)
    if getattr(config.option, "ansible_inventory", "unset") is None:
        config.option.ansible_inventory = CLUSTER_FILE
    if hasattr(config.option, "sudo"):
        config.option.sudo = True


def pytest_collection_modifyitems(items):
    """Tests that restart hosts go last, so that no other test sees a host coming back."""
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)


class DeadlineExceeded(Exception):
    pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """A deadline for the test body (fixtures have their own timeouts): SIGALRM raises in the
    test, and subprocess.run kills its child on the way out."""
    marker = item.get_closest_marker("e2e_timeout")
    seconds = int(marker.args[0]) if marker else DEFAULT_DEADLINE

    def expired(_signum, _frame):
        raise DeadlineExceeded("%s: still running after its deadline of %d s" % (item.nodeid, seconds))

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --- the cluster ------------------------------------------------------------------------------------

@pytest.fixture(name="cluster", scope="session")
def fixture_cluster():
    if not os.path.exists(CLUSTER_FILE):
        pytest.fail("%s is missing: bring up the lab and the cluster (make lab, or make e2e)" % CLUSTER_FILE,
                    pytrace=False)
    with open(CLUSTER_FILE, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    try:
        config = cluster_model.load(raw, base_dir=os.path.dirname(CLUSTER_FILE), check_files=False,
                                    source=CLUSTER_FILE)
    except ClusterConfigError as exc:
        pytest.fail(str(exc), pytrace=False)
    hosts = [{"name": h["name"], "address": h["address"], "roles": list(h["roles"])} for h in config["hosts"]]
    name = config["name"]
    kubeconfig = state_paths(name, CLUSTER_FILE, config["stateDir"])["kubeconfig"]
    if not os.path.exists(kubeconfig):
        pytest.fail("%s is missing: site.yml writes it; has it run on %s?" % (kubeconfig, CLUSTER_FILE),
                    pytrace=False)
    return {
        "name": name, "version": config["kubernetesVersion"], "path": CLUSTER_FILE, "config": config,
        "hosts": hosts,
        "control_planes": [h["name"] for h in hosts if "control_plane" in h["roles"]],
        "workers": [h["name"] for h in hosts if "worker" in h["roles"]],
        "registry_host": next((h for h in hosts if "registry" in h["roles"]), None),
        "addresses": {h["name"]: h["address"] for h in hosts},
        "kubeconfig": kubeconfig,
    }


@pytest.fixture(name="bom", scope="session")
def fixture_bom(cluster):
    directory = cluster["config"]["bundle"]["path"]
    archive = bundle_utils.find_archive(directory, cluster["name"], cluster["version"], "amd64")
    if not archive:
        pytest.fail("no bundle archive of %s %s in %s" % (cluster["name"], cluster["version"], directory),
                    pytrace=False)
    with open(archive + ".bom.json", encoding="utf-8") as handle:
        bom = json.load(handle)
    images = bom["images"]
    # What a node can hold of each image: the index (the tag's digest) and the platform manifest.
    bom["bom_digests"] = {i["digest"] for i in images} | {i["manifest"] for i in images if i.get("manifest")}
    bom["bom_images"] = {i["ref"]: i for i in images}
    bom["bom_path"] = archive + ".bom.json"
    return bom


@pytest.fixture(name="images", scope="session")
def fixture_images(bom):
    def find(fragment):
        refs = [ref for ref in bom["bom_images"] if fragment in ref]
        assert len(refs) == 1, "one image with %r in the BOM, found %s" % (fragment, refs)
        return refs[0]
    return {"hello": find("/airgapkubernetes/hello:"), "shell": find("/kube-proxy:")}


@pytest.fixture(name="kubectl", scope="session")
def fixture_kubectl(cluster, tmp_path_factory):
    """kubectl of the cluster's release, as the lab mirror publishes it (checked against its
    .sha256 file), copied to an executable place (the mirror's files are not executable)."""
    source = os.path.join(LAB, "mirror", "files", "dl.k8s.io", "release", cluster["version"], "bin", "linux",
                          "amd64", "kubectl")
    if not os.path.exists(source):
        pytest.fail("%s is missing: make lab-mirror" % source, pytrace=False)
    with open(source + ".sha256", encoding="utf-8") as handle:
        expected = handle.read().split()[0]
    target = tmp_path_factory.mktemp("kubectl") / "kubectl"
    shutil.copyfile(source, target)
    try:  # the copy goes at the end, whatever happens: 62 MB, and pytest keeps three runs' tmp dirs
        with open(target, "rb") as handle:
            assert hashlib.file_digest(handle, "sha256").hexdigest() == expected, "kubectl does not match its .sha256"
        os.chmod(target, 0o755)
        kubectl = Kubectl(target, cluster["kubeconfig"])
        try:
            kubectl("version", timeout=30)
        except KubectlError as exc:
            pytest.fail("the API server does not answer with %s: %s" % (cluster["kubeconfig"], exc), pytrace=False)
        # Namespaces left by an interrupted run (label airgap.kubernetes/e2e, older than any run
        # takes, so that a run beside this one keeps its own) go now.
        now = datetime.datetime.now(datetime.timezone.utc)
        for item in kubectl.items("namespaces", selector=E2E_LABEL):
            created = datetime.datetime.fromisoformat(item["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
            if now - created > datetime.timedelta(hours=2):
                kubectl("delete", "namespace", item["metadata"]["name"], "--wait=false", "--ignore-not-found")
        yield kubectl
    finally:
        target.unlink(missing_ok=True)


@pytest.fixture(name="namespace", scope="module")
def fixture_namespace(request, kubectl):
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")
    name = "e2e-%s-%s" % (module[:40], "".join(random.choices(string.ascii_lowercase + string.digits, k=5)))
    kubectl.apply({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": name, "labels": {E2E_LABEL: "1"}}})
    # Pods are refused until the namespace's default ServiceAccount exists.
    wait_until("ServiceAccount default in %s" % name,
               lambda: (kubectl.run("get", "serviceaccount", "default", namespace=name, check=False,
                                    timeout=15).returncode == 0, "absent"), timeout=60, interval=1)
    yield name
    deleted = kubectl.run("delete", "namespace", name, "--wait=true", "--timeout=120s", check=False, timeout=140)
    if deleted.returncode != 0:
        status = kubectl.json("get", "namespace", name).get("status", {})
        why = ["%s: %s" % (c["type"], c.get("message")) for c in status.get("conditions") or [] if c["status"] == "True"]
        raise AssertionError("namespace %s not deleted within 120 s (%s): %s"
                             % (name, status.get("phase"), "; ".join(why) or deleted.stderr.strip()))


@pytest.fixture(name="lab_host", scope="session")
def fixture_lab_host():
    hosts = {}

    def get(name):
        if name not in hosts:
            hosts[name] = testinfra.get_host("podman://%s" % name)
        return hosts[name]
    return get
