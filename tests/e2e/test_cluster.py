# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster the cluster file describes is up: every host is a Ready node of the pinned
release, with the roles the file gives it and the bundle's container runtime, and everything in
kube-system runs and is ready."""

from __future__ import annotations

from clusterlib import describe, pod_ready, wait_until


def test_every_host_is_a_ready_node_at_the_pinned_version(cluster, bom, kubectl):
    runtime = next(f["version"] for f in bom["files"] if f["name"] == "containerd")

    def probe():
        nodes = {n["metadata"]["name"]: n for n in kubectl.items("nodes")}
        problems = []
        for host in cluster["hosts"]:
            node = nodes.pop(host["name"], None)
            if node is None:
                problems.append("%s: not a node" % host["name"])
                continue
            info = node["status"]["nodeInfo"]
            ready = {c["type"]: c for c in node["status"]["conditions"]}.get("Ready", {})
            if ready.get("status") != "True":
                problems.append("%s: Ready=%s (%s)" % (host["name"], ready.get("status"), ready.get("message")))
            if info["kubeletVersion"] != cluster["version"]:
                problems.append("%s: kubelet %s" % (host["name"], info["kubeletVersion"]))
            if info["containerRuntimeVersion"].replace("://v", "://") != "containerd://" + runtime.lstrip("v"):
                problems.append("%s: runtime %s" % (host["name"], info["containerRuntimeVersion"]))
            addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
            if addresses.get("InternalIP") != host["address"]:
                problems.append("%s: InternalIP %s" % (host["name"], addresses.get("InternalIP")))
            is_control_plane = "node-role.kubernetes.io/control-plane" in node["metadata"]["labels"]
            if is_control_plane != ("control_plane" in host["roles"]):
                problems.append("%s: control-plane label %s" % (host["name"], is_control_plane))
        problems += ["%s: a node the cluster file does not list" % name for name in nodes]
        return not problems, problems

    wait_until("every host a Ready node at %s" % cluster["version"], probe, timeout=120)


def test_every_kube_system_pod_is_running_and_ready(kubectl):
    def probe():
        pods = kubectl.items("pods", namespace="kube-system")
        bad = [describe(p) for p in pods if not pod_ready(p)]
        return bool(pods) and not bad, bad or "no pods"

    wait_until("every pod in kube-system Running and Ready", probe, timeout=180)


def test_the_addons_run_on_every_node_they_should(cluster, kubectl):
    """kube-proxy and the CNI on every node; CoreDNS and metrics-server available."""
    nodes = len(cluster["hosts"])
    cni = cluster["config"]["cni"]["plugin"]

    def probe():
        daemonsets = {d["metadata"]["name"]: d["status"] for d in kubectl.items("daemonsets", namespace="kube-system")}
        deployments = {d["metadata"]["name"]: d["status"] for d in kubectl.items("deployments", namespace="kube-system")}
        problems = []
        for name in ("kube-proxy", cni):
            status = daemonsets.get(name)
            if not status or status.get("numberReady") != nodes or status.get("desiredNumberScheduled") != nodes:
                problems.append("DaemonSet %s: %s" % (name, status))
        for name in ("coredns", "metrics-server"):
            status = deployments.get(name)
            if not status or not status.get("availableReplicas") or \
                    status.get("availableReplicas") != status.get("replicas"):
                problems.append("Deployment %s: %s" % (name, status))
        return not problems, problems

    wait_until("add-ons ready", probe, timeout=180)
