# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the role scenarios' verify step (molecule/<scenario>/tests/, testinfra). They
read the lab's cluster file, $AIRGAP_LAB_CACHE/state/lab.cluster.yml, as the collection does:

  lab       config (the cluster file, defaults filled, paths absolute) and names (what the
            collection derives from it: the registry's address, CA and pull identity, ...), the
            values the phase playbooks map onto role variables
  bom       the BOM of the cluster's bundle archive, with images_by_name and files_by_name
  registry  registry(path, method="GET", headers=None, auth=True, tls=True) -> (status, headers):
            an HTTP request to the site registry from this machine, as a node makes it (TLS
            checked against the cluster's registry CA, the nodes' pull identity)

testinfra's host fixture reaches the cluster's hosts through the same cluster file (the base
config passes --ansible-inventory; this file sets it when pytest runs without molecule), with
--sudo: the cluster file's SSH user need not be root.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))
import collection  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, collection.collections_path())
# pylint: disable-next=wrong-import-position,wrong-import-order
from ansible_collections.airgap.kubernetes.plugins.plugin_utils import bundle as bundle_utils  # noqa: E402
# pylint: disable-next=wrong-import-position,wrong-import-order
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster import files, names  # noqa: E402

CLUSTER_FILE = os.path.join(os.environ.get("AIRGAP_LAB_CACHE", "/var/cache/airgap-lab"), "state", "lab.cluster.yml")


def pytest_configure(config):
    if getattr(config.option, "ansible_inventory", "unset") is None:
        config.option.ansible_inventory = CLUSTER_FILE
    if hasattr(config.option, "sudo"):
        config.option.sudo = True


@pytest.fixture(name="lab", scope="session")
def fixture_lab():
    if not os.path.exists(CLUSTER_FILE):
        pytest.fail("%s is missing: is the lab up (molecule create, make lab-up)?" % CLUSTER_FILE, pytrace=False)
    config, failure = files.load_cluster(None, CLUSTER_FILE)
    if failure:
        pytest.fail(failure["msg"], pytrace=False)
    return {"config": config, "names": names.derive(config, CLUSTER_FILE)}


@pytest.fixture(name="bom", scope="session")
def fixture_bom(lab):
    config = lab["config"]
    archive = bundle_utils.cluster_archive(config, "amd64")
    if not os.path.exists(archive):
        pytest.fail("no bundle archive of %s in %s: make lab-bundle" % (config["name"], config["bundle"]["path"]),
                    pytrace=False)
    with open(archive + ".bom.json", encoding="utf-8") as handle:
        bom = json.load(handle)
    bom["images_by_name"] = {image["name"]: image for image in bom["images"]}
    bom["files_by_name"] = {item["name"]: item for item in bom["files"]}
    return bom


@pytest.fixture(name="registry", scope="session")
def fixture_registry(lab):
    site = lab["names"]["registry"]
    with open(site["pull"]["password_file"], encoding="utf-8") as handle:
        password = handle.read().split()[0]
    authorization = "Basic " + base64.b64encode(("%s:%s" % (site["pull"]["username"], password)).encode()).decode()
    context = ssl.create_default_context(cafile=site["ca_file"])

    def request(path, method="GET", headers=None, auth=True, tls=True):
        url = "%s://%s%s" % ("https" if tls else "http", site["address"], path)
        sent = dict(headers or {})
        if auth:
            sent["Authorization"] = authorization
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method=method, headers=sent),
                                        context=context if tls else None, timeout=15) as response:
                return response.status, response.headers
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers
    return request
