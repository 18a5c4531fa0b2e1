# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every image the cluster runs came across the gap in the bundle and is served by the site's
registry; an image that is not in the bundle cannot be pulled, and trying sends nothing out of
the lab."""

from __future__ import annotations

import re
import subprocess
import time

from clusterlib import describe, hello_pod, image_name, wait_pods_ready, wait_until

PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff")
# The machine's side of the lab (lab/hosts/labhosts.py): rules with this comment reject every
# connection the hosts open towards the machine or through it to anywhere else.
LAB_RULE_COMMENT = "airgap.kubernetes.lab"


def test_every_running_image_is_a_bundle_image(cluster, bom, kubectl):
    """Every image a pod asks for is one of the BOM's, and the image the node runs for it (pod
    status imageID) has that BOM entry's digest (the tag's index, or its linux manifest)."""
    pods = kubectl.items("pods", all_namespaces=True)
    checked, wrong = 0, []
    for pod in pods:
        spec = {c["name"]: c["image"] for c in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]}
        statuses = (pod["status"].get("initContainerStatuses") or []) + (pod["status"].get("containerStatuses") or [])
        for status in statuses:
            if not status.get("imageID"):
                continue  # not pulled (yet): nothing runs from it
            checked += 1
            asked = spec[status["name"]]
            digest = status["imageID"].rsplit("@", 1)[-1]
            where = "%s/%s %s (asks for %s, runs %s)" % (pod["metadata"]["namespace"], pod["metadata"]["name"],
                                                         status["name"], asked, status["imageID"])
            entry = bom["bom_images"].get(image_name(asked))
            if entry is None:
                wrong.append(where + ": not an image of the bundle")
            elif digest not in (entry["digest"], entry.get("manifest")):
                wrong.append(where + ": the bundle has %s" % entry["digest"])
            elif "@" in asked and asked.rsplit("@", 1)[1] != entry["digest"]:
                wrong.append(where + ": pinned to another digest than the bundle's %s" % entry["digest"])
    print("%d containers checked against %s" % (checked, bom["bom_path"]))
    assert checked >= 2 * len(cluster["hosts"]), "too few containers to check (kube-proxy and the CNI run " \
        "on every node): %d" % checked
    assert not wrong, "\n".join(wrong)


LOGFMT = re.compile(r'([\w.]+)=("(?:[^"\\]|\\.)*"|\S*)')


def registry_requests(lab_host, registry, since):
    """(client address, method, uri) of the authenticated requests the site registry logged since
    `since` (distribution logs each as "authorized request", in logfmt)."""
    out = lab_host(registry["name"]).check_output(
        "timeout 30 journalctl -u airgap-registry --since %s --no-pager -o cat", "@%d" % since)
    found = []
    for line in out.splitlines():
        fields = {k: v.strip('"') for k, v in LOGFMT.findall(line)}
        if fields.get("msg") == "authorized request":
            found.append((fields.get("http.request.remoteaddr", "").rsplit(":", 1)[0],
                          fields.get("http.request.method"), fields.get("http.request.uri", "")))
    return found


def test_a_worker_pulls_a_bundle_image_from_the_site_registry(cluster, images, kubectl, lab_host, namespace):
    """Each worker asks the site registry for the image of a new pod (imagePullPolicy Always makes
    containerd resolve the tag even when it holds the image), with the cluster's credentials, and
    the pod runs (so the registry answered with the image)."""
    registry = cluster["registry_host"]
    assert registry, "the cluster file has no registry host"
    since = time.time() - 1
    pods = []
    for worker in cluster["workers"]:
        pod = hello_pod("pull-" + worker, images["hello"], worker, {"app": "pull"})
        pod["spec"]["containers"][0]["imagePullPolicy"] = "Always"
        pods.append(pod)
    kubectl.apply(*pods, namespace=namespace)
    wait_pods_ready(kubectl, namespace, [p["metadata"]["name"] for p in pods], timeout=180)

    repository = images["hello"].rsplit(":", 1)[0].split("/", 1)[1]  # airgapkubernetes/hello
    for worker in cluster["workers"]:
        address = cluster["addresses"][worker]

        def probe(address=address):
            requests = registry_requests(lab_host, registry, since)
            mine = [r for r in requests if r[0] == address and "/manifests/" in r[2] and repository in r[2]]
            return bool(mine), mine or requests[-5:]

        seen = wait_until("the registry on %s logs %s asking for %s" % (registry["name"], worker, repository),
                          probe, timeout=30)
        print("%s: %s" % (worker, seen))


def lab_reject_counters():
    """Packets the machine's lab rules rejected so far, per rule (iptables and ip6tables)."""
    counters = {}
    for tool in ("iptables", "ip6tables"):
        for chain in ("INPUT", "FORWARD"):
            out = subprocess.run([tool, "-w", "5", "-L", chain, "-v", "-x", "-n"], capture_output=True, text=True,
                                 timeout=30, check=True).stdout
            for line in out.splitlines():
                if LAB_RULE_COMMENT in line and "REJECT" in line:
                    counters["%s %s %s" % (tool, chain, " ".join(line.split()[2:]))] = int(line.split()[0])
    return counters


def test_an_image_not_in_the_bundle_fails_to_pull_and_nothing_leaves_the_lab(
        cluster, images, kubectl, lab_host, namespace):
    """A tag the bundle lacks is asked of the site registry (which has no such tag); a registry the
    cluster has no mirror for is not reached at all. Both pods fail with ErrImagePull or
    ImagePullBackOff, and the machine's lab firewall rejected nothing meanwhile: no host tried to
    reach the machine (where the connected side's mirror runs) or anything through it."""
    since = time.time() - 1
    before = lab_reject_counters()
    assert len(before) >= 4, "the machine's lab firewall rules are missing: %s" % before
    worker = cluster["workers"][0]
    wanted = {
        # a tag the bundle does not carry, of a repository it does: the site registry has no such tag
        "missing-tag": images["hello"].rsplit(":", 1)[0] + ":v0.0.0-not-in-bundle",
        # a registry the cluster has no mirror for
        "missing-registry": "ghcr.io/airgap-kubernetes/not-in-bundle:1.0",
    }
    pods = []
    for name, image in wanted.items():
        pod = hello_pod(name, image, worker, {"app": "missing"})
        pod["spec"]["containers"][0]["imagePullPolicy"] = "Always"
        pods.append(pod)
    kubectl.apply(*pods, namespace=namespace)

    def probe():
        got = {p["metadata"]["name"]: p for p in kubectl.items("pods", namespace=namespace, selector="app=missing")}
        reasons = {}
        for name in wanted:
            statuses = got.get(name, {}).get("status", {}).get("containerStatuses") or []
            assert not any("running" in (s.get("state") or {}) for s in statuses), describe(got[name])
            reasons[name] = [(s.get("state") or {}).get("waiting", {}).get("reason") for s in statuses]
        return all(r and r[0] in PULL_FAILURES for r in reasons.values()), reasons

    reasons = wait_until("pods with images not in the bundle failing to pull", probe, timeout=120)
    events = kubectl("get", "events", "--field-selector", "reason=Failed", "-o",
                     "custom-columns=POD:.involvedObject.name,MESSAGE:.message", "--no-headers", namespace=namespace)
    print(reasons)
    print(events)
    for name, image in wanted.items():
        assert re.search(r"^%s\s.*%s" % (name, re.escape(image)), events, re.MULTILINE), \
            "no pull failure event for %s (%s)" % (name, image)
    tag = wanted["missing-tag"].rsplit(":", 1)[1]
    asked = [r for r in registry_requests(lab_host, cluster["registry_host"], since)
             if r[0] == cluster["addresses"][worker] and r[2].split("?")[0].endswith("/manifests/" + tag)]
    assert asked, "the site registry has no request from %s for the tag %s" % (worker, tag)
    # Let containerd retry once more (ImagePullBackOff starts at 10 s) before counting.
    time.sleep(12)
    after = lab_reject_counters()
    assert after == before, "the lab's hosts tried to reach the machine or beyond: %s -> %s" % (before, after)
