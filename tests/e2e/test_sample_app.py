# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sample app site.yml installs (addons.sampleApp) answers through `kubectl port-forward`
with a page naming the pod, and the node, that served it: the seed walkthrough's last step."""

from __future__ import annotations

import html
import queue
import re
import subprocess
import threading
import time
import urllib.request

import pytest

from clusterlib import image_name, pod_ready


@pytest.fixture(name="sample_app")
def fixture_sample_app(cluster, images, kubectl):
    """The sample app's Deployment (found by its image, outside the suite's own namespaces) and the
    Service in front of it."""
    assert cluster["config"]["addons"]["sampleApp"]["enabled"], "the cluster file does not turn the sample app on"
    deployments = [d for d in kubectl.items("deployments", all_namespaces=True)
                   if not d["metadata"]["namespace"].startswith("e2e-")
                   and any(image_name(c["image"]) == images["hello"] for c in d["spec"]["template"]["spec"]["containers"])]
    assert len(deployments) == 1, "one Deployment of %s expected: %s" % (
        images["hello"], [(d["metadata"]["namespace"], d["metadata"]["name"]) for d in deployments])
    deployment = deployments[0]
    namespace = deployment["metadata"]["namespace"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    services = [s for s in kubectl.items("services", namespace=namespace)
                if s["spec"].get("selector") and all(labels.get(k) == v for k, v in s["spec"]["selector"].items())]
    assert services, "no Service selects the sample app's pods (%s) in %s" % (labels, namespace)
    return {"namespace": namespace, "deployment": deployment, "service": services[0],
            "selector": ",".join("%s=%s" % kv for kv in sorted(services[0]["spec"]["selector"].items()))}


def forwarded_port(process, timeout):
    """The local port kubectl port-forward prints ("Forwarding from 127.0.0.1:PORT -> ...")."""
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        seen.append(line)
        found = re.search(r"Forwarding from 127\.0\.0\.1:(\d+)", line)
        if found:
            return int(found.group(1))
    raise AssertionError("kubectl port-forward printed no port within %ss: %s (exit %s)"
                         % (timeout, seen, process.poll()))


def test_the_sample_app_answers_through_port_forward_with_a_page_naming_its_pod(kubectl, sample_app):
    service = sample_app["service"]
    port = service["spec"]["ports"][0]["port"]
    command = kubectl.command("port-forward", "service/%s" % service["metadata"]["name"], ":%d" % port,
                              "--address=127.0.0.1", namespace=sample_app["namespace"])
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        try:
            local = forwarded_port(process, timeout=30)
            with urllib.request.urlopen("http://127.0.0.1:%d/" % local, timeout=15) as response:
                status, page = response.status, response.read().decode()
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
    assert status == 200
    assert "Hello from airgap.kubernetes" in page, page
    pod = re.search(r'<b id="pod">([^<]+)</b>', page)
    node = re.search(r'<b id="node">([^<]+)</b>', page)
    assert pod and node, page
    items = kubectl.items("pods", namespace=sample_app["namespace"], selector=sample_app["selector"])
    pods = {p["metadata"]["name"]: p for p in items}
    name = html.unescape(pod.group(1))
    assert name in pods and pod_ready(pods[name]), "the page names %s; the app's pods are %s" % (name, sorted(pods))
    assert html.unescape(node.group(1)) == pods[name]["spec"]["nodeName"], page
    print("%s/%s answered: pod %s on node %s"
          % (sample_app["namespace"], service["metadata"]["name"], name, pods[name]["spec"]["nodeName"]))
