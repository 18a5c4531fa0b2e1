# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A worker host that restarts (its container: every process ends, /run and /tmp start empty,
/var is kept, as with a reboot) comes back as a Ready node, and its pods run again, with nothing
run on it or on the cluster: containerd and the kubelet start at boot, and the kernel settings
they need are there again.

Disruptive: runs after every other test (conftest.py); skip it with -m "not disruptive".
"""

from __future__ import annotations

import datetime
import subprocess
import time

import pytest

from clusterlib import describe, hello_pod, pod_ready, wait_pods_ready, wait_until

pytestmark = [pytest.mark.disruptive, pytest.mark.e2e_timeout(600)]


def timestamp(value):
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def started_at(name):
    return subprocess.run(["podman", "inspect", "--format", "{{.State.StartedAt}}", name], capture_output=True,
                          text=True, timeout=30, check=True).stdout.strip()


def test_a_restarted_worker_comes_back_ready_with_its_pods_by_itself(cluster, images, kubectl, namespace):
    worker = cluster["workers"][-1]
    kubectl.apply(hello_pod("pinned", images["hello"], worker, {"app": "pinned"}), namespace=namespace)
    wait_pods_ready(kubectl, namespace, ["pinned"])
    host_started = started_at(worker)

    restart_began = time.time()
    subprocess.run(["podman", "restart", "--time", "30", worker], capture_output=True, text=True, timeout=180,
                   check=True)
    host_back = time.time()
    assert started_at(worker) != host_started, "podman did not restart %s" % worker
    print("%s restarted in %.0f s" % (worker, host_back - restart_began))

    def lease_renewed():
        lease = kubectl.json("get", "lease", worker, namespace="kube-node-lease")
        renewed = lease["spec"].get("renewTime")
        return bool(renewed) and timestamp(renewed) >= int(host_back), renewed

    wait_until("the kubelet on %s renewing its lease after the restart" % worker, lease_renewed, timeout=240)

    def node_ready():
        node = kubectl.json("get", "node", worker)
        ready = {c["type"]: c for c in node["status"]["conditions"]}["Ready"]
        return ready["status"] == "True", ready

    wait_until("%s Ready again" % worker, node_ready, timeout=120)

    def pods_back():
        pods = kubectl.json("get", "pods", "--all-namespaces", "--field-selector", "spec.nodeName=%s" % worker,
                            timeout=30)["items"]
        stale = []
        for pod in pods:
            statuses = pod["status"].get("containerStatuses") or []
            restarted = statuses and all(
                "running" in s.get("state", {}) and timestamp(s["state"]["running"]["startedAt"]) >= int(restart_began)
                for s in statuses)
            if not (restarted and pod_ready(pod)):
                stale.append(describe(pod))
        return bool(pods) and not stale, stale or "no pods on %s" % worker

    wait_until("every pod on %s running again in a container started after the restart" % worker, pods_back,
               timeout=max(30, 300 - int(time.time() - host_back)), interval=3)
    print("%s Ready with its pods %.0f s after the restart began" % (worker, time.time() - restart_began))
