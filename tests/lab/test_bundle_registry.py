# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end on the lab (issue 4): the bundle builds from the lab mirror, carries the OS packages
of Debian 12 and 13, and a warm rebuild downloads nothing; the preflight refuses a bundle without
the cluster's CNI; the registry runs
on the registry host only over TLS and only with credentials, holds every image of the bundle by
digest, and a second staging pushes nothing.

Needs the lab (`make lab`): $AIRGAP_LAB_CACHE/state/lab.cluster.yml, the mirror on 127.0.0.1.
Run: .venv/bin/python -m pytest -q tests/lab
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import ssl
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests"))
import cluster_names  # noqa: E402  pylint: disable=wrong-import-position
import collection  # noqa: E402  pylint: disable=wrong-import-position

LAB = os.environ.get("AIRGAP_LAB_CACHE", "/var/cache/airgap-lab")
LAB_CLUSTER = os.path.join(LAB, "state", "lab.cluster.yml")
BIN = os.path.dirname(sys.executable)


def playbook(name, *args, inventory=None):
    command = [os.path.join(BIN, "ansible-playbook")] + (["-i", inventory] if inventory else []) + \
        ["airgap.kubernetes." + name] + list(args)
    env = collection.environment()
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="default")
    return subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False, timeout=1800)


@pytest.fixture(name="cluster_file", scope="module")
def fixture_cluster_file(tmp_path_factory):
    """A copy of the lab's cluster file (make lab-hosts writes it with its sources on the lab
    mirror and the sample app on), so that its bundle and pki directories land in a scratch dir."""
    assert os.path.exists(LAB_CLUSTER), "the lab is not up: run make lab"
    work = tmp_path_factory.mktemp("issue4")
    with open(LAB_CLUSTER, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    assert config["sources"]["registryK8sIo"].startswith("http://127.0.0.1:"), config["sources"]
    assert config["sources"]["debianArchive"].startswith("http://127.0.0.1:"), config["sources"]
    assert config["addons"]["sampleApp"]["enabled"] is True
    path = work / "cluster.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def msg_of(output):
    found = re.findall(r'"msg": "(bundle .*?)"', output)
    assert found, output
    return found[-1]


@pytest.fixture(name="bundle", scope="module")
def fixture_bundle(cluster_file):
    # The lab's cluster file trusts the lab's signing key (make lab-hosts makes it).
    key = "bundle_signing_key=%s" % os.path.join(LAB, "state", "bundle-signing", "id_ed25519")
    first = playbook("bundle", "-e", "cluster_file=%s" % cluster_file, "-e", key)
    assert first.returncode == 0, first.stdout
    second = playbook("bundle", "-e", "cluster_file=%s" % cluster_file, "-e", key)
    assert second.returncode == 0, second.stdout
    archive = os.path.join(os.path.dirname(cluster_file), "bundle", "lab-bundle-v1.37.2-amd64.tar")
    with open(archive + ".bom.json", encoding="utf-8") as handle:
        bom = json.load(handle)
    return {"first": msg_of(first.stdout), "second": msg_of(second.stdout), "archive": archive, "bom": bom}


def test_bundle_builds_from_the_mirror_and_a_warm_rebuild_downloads_nothing(bundle):
    print(bundle["first"])
    print(bundle["second"])
    assert "downloaded 0 bytes" in bundle["second"] and "archive unchanged" in bundle["second"]
    cached = re.search(r"(\d+) files, (\d+) blobs and (\d+) packages from the cache", bundle["second"])
    assert cached and int(cached.group(3)) == len(bundle["bom"]["packages"]) > 0, bundle["second"]
    refs = {i["ref"] for i in bundle["bom"]["images"]}
    assert {"registry.k8s.io/kube-apiserver:v1.37.2", "registry.k8s.io/etcd:3.7.0-0",
            "registry.k8s.io/metrics-server/metrics-server:v0.8.0", "docker.io/airgapkubernetes/hello:v1.0.0",
            "docker.io/library/registry:3.0.0", "docker.io/cloudnativelabs/kube-router:v2.1.0"} <= refs
    with open(os.path.join(LAB, "mirror", "index.json"), encoding="utf-8") as handle:
        index = json.load(handle)
    for image in bundle["bom"]["images"]:
        assert index["images"][image["ref"]] == image["digest"], image["ref"]
    for entry in bundle["bom"]["files"] + bundle["bom"]["packages"]:
        rel = entry["url"].split("127.0.0.1:18080/", 1)[1]
        assert index["files"][rel] == entry["sha256"], rel


def debian_key_fingerprints():
    """Every (sub)key fingerprint of Debian's archive keyring on this machine."""
    with tempfile.TemporaryDirectory(prefix="gpg-", dir="/tmp") as home:
        listing = subprocess.run(["gpg", "--homedir", home, "--batch", "--with-colons", "--show-keys",
                                  "/usr/share/keyrings/debian-archive-keyring.gpg"],
                                 check=True, capture_output=True, text=True).stdout
    return {line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")}


def test_bundle_carries_the_os_packages_of_debian_12_and_13(bundle):
    bom = bundle["bom"]
    releases = {r["os"]: r for r in bom["osReleases"]}
    assert sorted(releases) == ["debian-12", "debian-13"]
    assert (releases["debian-12"]["suite"], releases["debian-13"]["suite"]) == ("bookworm", "trixie")
    debian_keys = debian_key_fingerprints()
    for os_id, release in releases.items():
        # The mirror serves Debian's own InRelease: its signatures are Debian's archive keys'.
        assert release["release"]["url"].endswith("/deb.debian.org/debian/dists/%s/InRelease" % release["suite"])
        assert release["release"]["signedBy"] and set(release["release"]["signedBy"]) <= debian_keys, release
        assert release["index"]["url"].startswith("http://127.0.0.1:18080/deb.debian.org/debian/dists/")
        names = {p["name"] for p in bom["packages"] if p["os"] == os_id}
        assert {"conntrack", "socat", "ethtool", "ebtables", "ipset", "iptables", "iproute2", "kmod"} <= names
        assert set(release["requested"]) <= names
        # Dependencies come along; what every Debian host has (libc6) does not.
        assert {"libmnl0", "libnftnl11", "libxtables12"} <= names and "libc6" not in names, names
    expected = {p["path"]: p for p in bom["packages"]}
    seen = {}
    with tarfile.open(bundle["archive"]) as tar:
        for member in tar:
            if member.name.startswith("files/packages/"):
                seen[member.name] = hashlib.sha256(tar.extractfile(member).read()).hexdigest()
    assert sorted(seen) == sorted(expected)
    for path, entry in expected.items():
        assert path == "files/packages/%s/%s" % (entry["os"], entry["url"].rsplit("/", 1)[1])
        assert seen[path] == entry["sha256"], path


def test_preflight_refuses_a_cni_the_collection_does_not_install(bundle, cluster_file):
    # The same cluster asking for a CNI the collection has no rows for, next to the same bundle.
    other = cluster_file.with_name("calico.cluster.yml")
    config = yaml.safe_load(cluster_file.read_text())
    config["cni"] = {"plugin": "calico"}
    other.write_text(yaml.safe_dump(config, sort_keys=False))
    result = playbook("preflight", "-e", "cluster_file=%s" % other)
    assert result.returncode == 2
    assert "cni.plugin: value of plugin must be one of: kube-router, got: calico" in result.stdout, result.stdout
    assert "lab-1" not in result.stdout[result.stdout.index("PLAY RECAP"):]


def test_registry_serves_every_image_only_over_tls_with_credentials(bundle, cluster_file):
    first = playbook("registry", inventory=str(cluster_file))
    assert first.returncode == 0, first.stdout
    second = playbook("registry", inventory=str(cluster_file))
    assert second.returncode == 0, second.stdout
    # Whatever the first run had to push went through the push instance on the loopback.
    assert "images in 127.0.0.1:5001" in first.stdout or "Start the push instance] *" in first.stdout, first.stdout
    assert re.search(r"lab-1 +: ok=\d+ +changed=0 ", second.stdout), second.stdout
    # Nothing missing: the push instance is not started at all.
    assert re.search(r"TASK \[airgap.kubernetes.registry : Start the push instance\] \*+\nskipping: \[lab-1\]",
                     second.stdout), second.stdout

    # The registry's CA and the generated passwords, where the collection's model keeps them.
    names = cluster_names.names(str(cluster_file))["registry"]
    with open(names["pull"]["password_file"], encoding="utf-8") as handle:
        password = handle.read().split()[0]
    base = "https://10.213.7.11:5000"
    context = ssl.create_default_context(cafile=names["ca_file"])

    def status(url, auth=None, method="GET", ctx=context):
        request = urllib.request.Request(url, method=method)
        if auth:
            request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
        try:
            with urllib.request.urlopen(request, context=ctx, timeout=10) as response:
                return response.status, response.headers
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers

    assert status(base + "/v2/")[0] == 401
    assert status(base + "/v2/x/blobs/uploads/", method="POST")[0] == 401
    assert status("http://10.213.7.11:5000/v2/", ctx=None)[0] == 400
    for image in bundle["bom"]["images"]:
        repository, tag = image["ref"].rsplit(":", 1)
        code, headers = status("%s/v2/%s/manifests/%s" % (base, repository, tag), auth="airgap-pull:" + password,
                               method="HEAD")
        assert code == 200 and headers["Docker-Content-Digest"] == image["digest"], image["ref"]
    # The nodes' identity cannot push (the instance they reach is read-only), and the push
    # instance is not running: nothing listens on its loopback port's address from outside.
    assert status(base + "/v2/x/blobs/uploads/", auth="airgap-pull:" + password, method="POST")[0] == 405
    with open(names["password_file"], encoding="utf-8") as handle:
        push_password = handle.read().split()[0]
    assert status(base + "/v2/x/blobs/uploads/", auth="airgap:" + push_password, method="POST")[0] == 401
