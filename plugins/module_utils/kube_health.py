# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health checks of a kubeadm cluster through its API server (the cluster_health module).

``gather`` reads what the checks need (GET requests only) into a snapshot; ``evaluate`` turns a
snapshot into checks, each ``{"name", "status": ok|warn|fail, "reason", "object"}``; ``report``
adds the totals and the readable lines. Standard library only: it runs on air-gapped hosts.
"""

from __future__ import annotations

import datetime
import email.utils
import re

from ansible_collections.airgap.kubernetes.plugins.module_utils.kube_api import KubeAPIError, quote

OK, WARN, FAIL = "ok", "warn", "fail"
CONTROL_PLANE_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
# Conditions that must be False on a healthy node (Ready must be True).
BAD_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
# Waiting reasons that mean a container will not come up without someone's help.
STUCK_REASONS = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull", "InvalidImageName",
                 "CreateContainerConfigError", "CreateContainerError", "RunContainerError")
# What kubeadm deploys for cluster DNS.
DNS_NAMESPACE, DNS_DEPLOYMENT, DNS_SERVICE, DNS_LABEL = "kube-system", "coredns", "kube-dns", "k8s-app=kube-dns"
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class Options:
    """What the caller expects; every field optional but namespaces."""

    def __init__(self, expected_nodes=None, expected_version=None, namespaces=("kube-system",),
                 allowed_digests=None, restart_warn=3):
        self.expected_nodes = expected_nodes
        self.expected_version = normalize_version(expected_version) if expected_version else None
        self.namespaces = list(namespaces)
        self.allowed_digests = set(allowed_digests) if allowed_digests is not None else None
        self.restart_warn = restart_warn

    @property
    def all_namespaces(self):
        return "*" in self.namespaces

    def watched(self, namespace):
        return self.all_namespaces or namespace in self.namespaces


def normalize_version(version):
    version = str(version).strip()
    return version if version.startswith("v") else "v" + version


def check(name, status, reason, obj):
    return {"name": name, "status": status, "reason": reason, "object": obj}


# -- reading ---------------------------------------------------------------------------------------

def gather(client, options, timeout=None):
    """Everything the checks read, as {key: answer}; a request without an answer ends the reading
    (an API server that times out once would time out again) and is kept under "error"."""
    snap = {"server": client.server, "errors": {}}
    read_lists = [
        ("nodes", "/api/v1/nodes"),
        ("leases", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"),
        ("dns_slices", "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices?labelSelector=%s"
         % (DNS_NAMESPACE, quote("kubernetes.io/service-name=" + DNS_SERVICE))),
    ]
    if options.all_namespaces or options.allowed_digests is not None:
        read_lists.append(("pods", "/api/v1/pods"))
    else:
        for namespace in sorted(set(options.namespaces) | {"kube-system"}):
            read_lists.append(("pods", "/api/v1/namespaces/%s/pods" % quote(namespace)))
    for kind in ("deployments", "daemonsets"):
        if options.all_namespaces:
            read_lists.append((kind, "/apis/apps/v1/%s" % kind))
        else:
            for namespace in sorted(set(options.namespaces) | {DNS_NAMESPACE}):
                read_lists.append((kind, "/apis/apps/v1/namespaces/%s/%s" % (quote(namespace), kind)))
    try:
        for key, path in (("readyz", "/readyz?verbose"), ("livez", "/livez?verbose")):
            try:
                answer = client.request(path, timeout=timeout, accept="text/plain")
            except KubeAPIError as exc:
                if exc.kind != "timeout" or key != "readyz":
                    raise
                # /readyz waits on its slowest check (etcd, when etcd hangs); /livez may still say why.
                snap["error"] = str(exc)
                try:
                    answer = client.request("/livez?verbose", timeout=timeout, accept="text/plain")
                    snap["livez"] = {"status": answer.status, "text": answer.text}
                except KubeAPIError:
                    pass
                return snap
            if answer.status == 401:  # no point asking anything else
                source = getattr(getattr(client, "config", None), "source", None) or "the kubeconfig"
                raise KubeAPIError("GET %s%s: HTTP 401 Unauthorized: the API server does not accept the credentials "
                                   "of %s (a client certificate from another cluster's CA, or expired?)"
                                   % (client.server, path, source), status=401, kind="http")
            snap[key] = {"status": answer.status, "text": answer.text}
            snap.setdefault("date", answer.headers.get("Date"))
        try:
            snap["version"] = client.get_json("/version", timeout=timeout)
        except KubeAPIError as exc:
            if exc.kind != "http":
                raise
            snap["errors"]["version"] = str(exc)
        for key, path in read_lists:
            try:
                answer = client.get_json(path, timeout=timeout)
            except KubeAPIError as exc:
                if exc.kind != "http":
                    raise
                snap["errors"][key] = str(exc)
                continue
            snap.setdefault(key, []).extend(answer.get("items") or [])
        snap["dns_probes"] = probe_dns_pods(client, snap, timeout)
    except KubeAPIError as exc:
        snap["error"] = str(exc)
    return snap


def probe_dns_pods(client, snap, timeout):
    """Ask each ready CoreDNS pod its readiness endpoint (from its readinessProbe) through the API
    server's pod proxy: {pod name: (ok, what it answered)}."""
    result = {}
    for pod in snap.get("pods") or []:
        meta = pod.get("metadata") or {}
        if meta.get("namespace") != DNS_NAMESPACE or (meta.get("labels") or {}).get("k8s-app") != "kube-dns":
            continue
        if not pod_ready(pod) or meta.get("deletionTimestamp"):
            continue
        probe, port = None, None
        for container in (pod.get("spec") or {}).get("containers") or []:
            probe = (container.get("readinessProbe") or {}).get("httpGet")
            if probe:
                port = probe.get("port")
                if not isinstance(port, int):  # a named port (kubeadm's CoreDNS: readiness-probe)
                    port = next((p.get("containerPort") for p in container.get("ports") or []
                                 if p.get("name") == port), None)
                break
        if not probe or not port or (probe.get("scheme") or "HTTP") != "HTTP":
            result[meta["name"]] = (None, "no HTTP readiness probe to ask")
            continue
        path = "/api/v1/namespaces/%s/pods/%s:%d/proxy%s" % (
            DNS_NAMESPACE, quote(meta["name"]), port, probe.get("path") or "/")
        try:
            answer = client.request(path, timeout=timeout, accept="*/*")
        except KubeAPIError as exc:
            if exc.kind == "timeout":
                result[meta["name"]] = (False, "no answer through the API server proxy within the timeout")
                continue
            raise
        result[meta["name"]] = (answer.status == 200, "HTTP %d %s" % (answer.status, answer.text.strip()[:80]))
    return result


# -- helpers ----------------------------------------------------------------------------------------

def parse_time(value):
    """RFC 3339 (Kubernetes times and micro times) or an HTTP date -> aware datetime, or None."""
    if not value:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return datetime.datetime.strptime(value, fmt).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            pass
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None


def conditions(obj):
    return {c.get("type"): c for c in ((obj.get("status") or {}).get("conditions") or [])}


def pod_ready(pod):
    return (conditions(pod).get("Ready") or {}).get("status") == "True"


def name_of(obj):
    meta = obj.get("metadata") or {}
    return "%s/%s" % (meta["namespace"], meta["name"]) if meta.get("namespace") else meta.get("name")


def parse_health(text):
    """The lines of /readyz?verbose or /livez?verbose -> [{name, ok, reason}]."""
    result = []
    for line in (text or "").splitlines():
        match = re.match(r"^\[([+-])\]([^\s]+)\s+(ok|failed)(?::\s*(.*))?$", line.strip())
        if match:
            result.append({"name": match.group(2), "ok": match.group(1) == "+",
                           "reason": match.group(4) or ("ok" if match.group(1) == "+" else "failed")})
    return result


def image_digest(image_id):
    """The manifest digest in a container's imageID ('name@sha256:...'), or None when it has none
    (an image ID alone - the config digest - names no registry content)."""
    image_id = (image_id or "").split("://", 1)[-1]
    if "@" in image_id:
        return image_id.rsplit("@", 1)[1]
    return None


def bom_digests(bom):
    """Every digest a node may report for the BOM's images: the (index) digest and the platform
    manifest's."""
    digests = set()
    for image in bom.get("images") or []:
        for key in ("digest", "manifest"):
            if image.get(key):
                digests.add(image[key])
    return digests


def _age(seconds):
    seconds = int(seconds)
    if seconds < 120:
        return "%d s" % seconds
    if seconds < 7200:
        return "%d min" % (seconds // 60)
    return "%d h" % (seconds // 3600)


# -- the checks ---------------------------------------------------------------------------------

def evaluate(snap, options):
    """Checks from a snapshot, in a fixed order."""
    server = snap["server"]
    checks = [check("api_server", OK, "answers", server) if not snap.get("error")
              else check("api_server", FAIL, snap["error"], server)]
    for key in ("readyz", "livez"):
        if key in snap:
            checks.extend(_health_endpoint(snap, key, server))
    if "readyz" in snap or "livez" in snap:
        checks.append(_etcd(snap))
    if "readyz" not in snap:
        return checks
    if snap.get("version") is not None or "version" in snap["errors"]:
        checks.append(_api_version(snap, options))
    for key, error in sorted(snap["errors"].items()):
        if key != "version":
            checks.append(check("api_read", FAIL, error, key))
    now = parse_time(snap.get("date")) or datetime.datetime.now(datetime.timezone.utc)
    if "nodes" in snap:
        checks.extend(_nodes(snap, options, now))
        checks.extend(_control_plane_pods(snap))
    # A reading cut short (snap["error"]) checks only what it read.
    if "deployments" in snap or "deployments" in snap["errors"]:
        checks.append(_coredns(snap))
    checks.extend(_workloads(snap, options))
    checks.extend(_pods(snap, options, now))
    if options.allowed_digests is not None and "pods" in snap:
        checks.extend(_images(snap, options))
    return checks


def _health_endpoint(snap, key, server):
    answer = snap[key]
    entries = parse_health(answer["text"])
    failed = [e for e in entries if not e["ok"]]
    obj = server + "/" + key
    if answer["status"] == 200 and not failed:
        return [check("api_" + key, OK, "%d checks passed" % len(entries), obj)]
    if failed:
        reason = "HTTP %d; failed: %s" % (answer["status"], ", ".join(
            "%s (%s)" % (e["name"], e["reason"]) if e["reason"] != "failed" else e["name"] for e in failed))
    else:
        reason = "HTTP %d: %s" % (answer["status"], answer["text"].strip()[:200] or "no body")
    return [check("api_" + key, FAIL, reason, obj)]


def _etcd(snap):
    """etcd as the API server sees it: the etcd checks of /readyz and /livez."""
    entries = [dict(e, source=k) for k in ("readyz", "livez") if k in snap for e in parse_health(snap[k]["text"])
               if e["name"].startswith("etcd")]
    obj = "etcd (API server /readyz and /livez etcd checks)"
    if not entries:
        if "readyz" in snap and snap["readyz"]["status"] != 200 and not parse_health(snap["readyz"]["text"]):
            return check("etcd", FAIL, "/readyz answered HTTP %d without per-check detail" % snap["readyz"]["status"],
                         obj)
        return check("etcd", WARN, "the API server lists no etcd check in /readyz?verbose", obj)
    failed = ["%s %s (%s)" % (e["source"], e["name"], e["reason"]) for e in entries if not e["ok"]]
    if failed:
        return check("etcd", FAIL, "the API server cannot use etcd: " + ", ".join(failed), obj)
    return check("etcd", OK, "passed: " + ", ".join(sorted(set("%s %s" % (e["source"], e["name"]) for e in entries))),
                 obj)


def _api_version(snap, options):
    obj = snap["server"] + "/version"
    if "version" in snap["errors"]:
        return check("api_version", FAIL, snap["errors"]["version"], obj)
    version = snap["version"].get("gitVersion") or "?"
    if options.expected_version and version != options.expected_version:
        return check("api_version", FAIL, "the API server runs %s, expected %s" % (version, options.expected_version),
                     obj)
    return check("api_version", OK, version, obj)


def _leases(snap):
    leases = {}
    for lease in snap.get("leases") or []:
        spec = lease.get("spec") or {}
        name = (lease.get("metadata") or {}).get("name")
        leases[name] = (parse_time(spec.get("renewTime")), spec.get("leaseDurationSeconds") or 40)
    return leases


def _nodes(snap, options, now):
    nodes = snap.get("nodes") or []
    checks = []
    names = sorted((n.get("metadata") or {}).get("name") for n in nodes)
    if options.expected_nodes is not None and len(nodes) != options.expected_nodes:
        checks.append(check("node_count", FAIL, "%d nodes registered (%s), expected %d"
                            % (len(nodes), ", ".join(names) or "none", options.expected_nodes), "nodes"))
    else:
        checks.append(check("node_count", OK, "%d nodes registered%s" % (
            len(nodes), "" if options.expected_nodes is None else " as expected"), "nodes"))
    leases = "leases" in snap and _leases(snap)
    for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        name = node["metadata"]["name"]
        obj = "Node/" + name
        conds = conditions(node)
        ready = conds.get("Ready") or {}
        problems, warnings = [], []
        if ready.get("status") != "True":
            since = parse_time(ready.get("lastTransitionTime"))
            problems.append("not Ready (Ready=%s%s%s)" % (
                ready.get("status", "missing"),
                ": %s" % (ready.get("message") or ready.get("reason")) if ready.get("message") or ready.get("reason") else "",
                ", for %s" % _age((now - since).total_seconds()) if since else ""))
        for kind in BAD_CONDITIONS:
            cond = conds.get(kind)
            if cond and cond.get("status") == "True":
                problems.append("%s (%s)" % (kind, cond.get("message") or cond.get("reason") or "True"))
        lease_note = ""
        if leases is not False:
            renewed, duration = leases.get(name, (None, 40))
            if renewed is None:
                problems.append("no kubelet lease in kube-node-lease")
            else:
                age = (now - renewed).total_seconds()
                lease_note = ", lease renewed %s ago" % _age(max(age, 0))
                if age > duration:
                    problems.append("the kubelet has not renewed its lease for %s (lease duration %d s): "
                                    "the kubelet is stopped or cannot reach the API server" % (_age(age), duration))
        if (node.get("spec") or {}).get("unschedulable"):
            warnings.append("cordoned (unschedulable)")
        version = ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "?")
        if problems:
            checks.append(check("node_ready", FAIL, "; ".join(problems + warnings), obj))
        elif warnings:
            checks.append(check("node_ready", WARN, "Ready but " + "; ".join(warnings), obj))
        else:
            checks.append(check("node_ready", OK, "Ready, kubelet %s%s" % (version, lease_note), obj))
        if options.expected_version:
            if version != options.expected_version:
                checks.append(check("node_version", FAIL, "kubelet %s, expected %s" % (version, options.expected_version),
                                    obj))
            else:
                checks.append(check("node_version", OK, "kubelet %s" % version, obj))
    return checks


def node_summary(snap, now=None):
    """Per node: name, roles, Ready, kubelet version and the conditions (for the module's result)."""
    result = []
    now = now or parse_time(snap.get("date")) or datetime.datetime.now(datetime.timezone.utc)
    leases = _leases(snap)
    for node in sorted(snap.get("nodes") or [], key=lambda n: n["metadata"]["name"]):
        labels = node["metadata"].get("labels") or {}
        conds = conditions(node)
        renewed = leases.get(node["metadata"]["name"], (None, None))[0]
        result.append({
            "name": node["metadata"]["name"],
            "roles": sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")),
            "ready": (conds.get("Ready") or {}).get("status") == "True",
            "version": ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion"),
            "conditions": {k: v.get("status") for k, v in sorted(conds.items())},
            "lease_age_seconds": int((now - renewed).total_seconds()) if renewed else None,
        })
    return result


def _control_plane_pods(snap):
    checks = []
    control_planes = sorted(n["metadata"]["name"] for n in snap.get("nodes") or []
                            if CONTROL_PLANE_LABEL in (n["metadata"].get("labels") or {}))
    if "pods" not in snap:
        return checks
    if not control_planes:
        return [check("control_plane_pod", FAIL, "no node carries the label %s" % CONTROL_PLANE_LABEL, "nodes")]
    static = {}
    for pod in snap["pods"]:
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        if meta.get("namespace") == "kube-system" and labels.get("tier") == "control-plane":
            static[(labels.get("component"), (pod.get("spec") or {}).get("nodeName"))] = pod
    for node in control_planes:
        for component in CONTROL_PLANE_COMPONENTS:
            pod = static.get((component, node))
            if pod is None:
                checks.append(check("control_plane_pod", FAIL, "no %s pod on %s (is its static pod manifest in "
                                    "/etc/kubernetes/manifests, and the kubelet running?)" % (component, node),
                                    "Pod/kube-system/%s-%s" % (component, node)))
                continue
            obj = "Pod/" + name_of(pod)
            phase = (pod.get("status") or {}).get("phase")
            if phase != "Running" or not pod_ready(pod):
                checks.append(check("control_plane_pod", FAIL, "%s on %s is %s%s" % (
                    component, node, phase or "unknown", "" if phase != "Running" else " but not Ready"), obj))
            else:
                checks.append(check("control_plane_pod", OK, "Running and Ready on %s" % node, obj))
    return checks


def _desired(deployment):
    replicas = (deployment.get("spec") or {}).get("replicas")
    return 1 if replicas is None else replicas


def _coredns(snap):
    obj = "Deployment/%s/%s" % (DNS_NAMESPACE, DNS_DEPLOYMENT)
    deployment = None
    for item in snap.get("deployments") or []:
        if item["metadata"].get("namespace") == DNS_NAMESPACE and item["metadata"]["name"] == DNS_DEPLOYMENT:
            deployment = item
    if deployment is None:
        if "deployments" in snap["errors"]:
            return check("coredns", FAIL, "cannot read Deployments: " + snap["errors"]["deployments"], obj)
        return check("coredns", FAIL, "CoreDNS is not deployed: no Deployment %s/%s" % (DNS_NAMESPACE, DNS_DEPLOYMENT), obj)
    desired = _desired(deployment)
    available = (deployment.get("status") or {}).get("availableReplicas") or 0
    ready = []
    ports = set()
    for endpoint_slice in snap.get("dns_slices") or []:
        for port in endpoint_slice.get("ports") or []:
            ports.add("%s/%s" % (port.get("port"), port.get("protocol", "TCP")))
        for endpoint in endpoint_slice.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready"):
                ready.extend(endpoint.get("addresses") or [])
    service = "Service %s/%s" % (DNS_NAMESPACE, DNS_SERVICE)
    problems = []
    if desired == 0:
        problems.append("CoreDNS is scaled to 0 replicas")
    elif available == 0:
        problems.append("CoreDNS has 0 of %d replicas available" % desired)
    if "dns_slices" in snap["errors"]:
        problems.append("cannot read the EndpointSlices of %s: %s" % (service, snap["errors"]["dns_slices"]))
    elif not ready:
        problems.append("%s has no ready endpoint: cluster DNS does not answer" % service)
    elif "53/UDP" not in ports:
        problems.append("%s does not serve port 53/UDP (ports: %s)" % (service, ", ".join(sorted(ports)) or "none"))
    if problems:
        return check("coredns", FAIL, "; ".join(problems), obj)
    probes = snap.get("dns_probes") or {}
    answered = sorted(p for p, (ok, dummy) in probes.items() if ok)
    silent = ["%s: %s" % (p, why) for p, (ok, why) in sorted(probes.items()) if not ok]
    reason = "%d/%d replicas available, %s has %d ready endpoint(s) (%s)" % (
        available, desired, service, len(ready), ", ".join(sorted(ready)))
    if silent:
        return check("coredns", WARN, reason + "; through the API server proxy, not answering: " + "; ".join(silent), obj)
    if available < desired:
        return check("coredns", WARN, reason, obj)
    if answered:
        reason += "; readiness endpoint answered through the API server proxy from %d pod(s)" % len(answered)
    return check("coredns", OK, reason, obj)


def _workloads(snap, options):
    checks = []
    for item in sorted(snap.get("deployments") or [], key=name_of):
        if not options.watched(item["metadata"].get("namespace")):
            continue
        obj = "Deployment/" + name_of(item)
        status = item.get("status") or {}
        desired = _desired(item)
        available = status.get("availableReplicas") or 0
        updated = status.get("updatedReplicas") or 0
        counts = "%d/%d available, %d updated" % (available, desired, updated)
        if desired == 0:
            checks.append(check("deployment", WARN, "scaled to 0 replicas", obj))
        elif available < desired:
            checks.append(check("deployment", FAIL, counts + _condition_note(item, "Available", "Progressing"), obj))
        elif updated < desired or (status.get("observedGeneration") or 0) < (item["metadata"].get("generation") or 0):
            checks.append(check("deployment", WARN, counts + ": a rollout is in progress", obj))
        else:
            checks.append(check("deployment", OK, counts, obj))
    for item in sorted(snap.get("daemonsets") or [], key=name_of):
        if not options.watched(item["metadata"].get("namespace")):
            continue
        obj = "DaemonSet/" + name_of(item)
        status = item.get("status") or {}
        desired = status.get("desiredNumberScheduled") or 0
        ready = status.get("numberReady") or 0
        available = status.get("numberAvailable") or 0
        updated = status.get("updatedNumberScheduled") or 0
        misscheduled = status.get("numberMisscheduled") or 0
        counts = "%d/%d ready, %d available, %d updated" % (ready, desired, available, updated)
        if ready < desired or available < desired:
            checks.append(check("daemonset", FAIL, counts, obj))
        elif updated < desired or misscheduled:
            checks.append(check("daemonset", WARN, counts + (", %d misscheduled" % misscheduled if misscheduled else ""),
                                obj))
        else:
            checks.append(check("daemonset", OK, counts, obj))
    return checks


def _condition_note(obj, *types):
    conds = conditions(obj)
    notes = ["%s: %s" % (t, conds[t].get("message")) for t in types
             if t in conds and conds[t].get("status") != "True" and conds[t].get("message")]
    return ("; " + "; ".join(notes)) if notes else ""


def _owner_kind(pod):
    owners = (pod.get("metadata") or {}).get("ownerReferences") or []
    return owners[0].get("kind") if owners else None


def _last_exit(status):
    term = (status.get("lastState") or {}).get("terminated") or {}
    if not term:
        return ""
    return ", last exit %s%s%s" % (term.get("exitCode"), " (%s)" % term["reason"] if term.get("reason") else "",
                                   " at %s" % term["finishedAt"] if term.get("finishedAt") else "")


def _pods(snap, options, now):
    checks = []
    for pod in sorted(snap.get("pods") or [], key=name_of):
        meta = pod.get("metadata") or {}
        if not options.watched(meta.get("namespace")):
            continue
        obj = "Pod/" + name_of(pod)
        status = pod.get("status") or {}
        phase = status.get("phase")
        where = " on %s" % pod["spec"]["nodeName"] if (pod.get("spec") or {}).get("nodeName") else ""
        if meta.get("deletionTimestamp"):
            # deletionTimestamp is when the grace period ends; a minute after it the pod is stuck.
            overdue = (now - (parse_time(meta["deletionTimestamp"]) or now)).total_seconds()
            if overdue > 60:
                checks.append(check("pod", WARN, "terminating for %s past its grace period%s"
                                    % (_age(overdue), where), obj))
            else:
                checks.append(check("pod", OK, "terminating%s" % where, obj))
            continue
        if phase == "Succeeded":
            checks.append(check("pod", OK, "completed%s" % where, obj))
            continue
        problems, warnings = [], []
        init = status.get("initContainerStatuses") or []
        statuses = init + (status.get("containerStatuses") or [])
        restart_policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
        for cstatus in statuses:
            waiting = (cstatus.get("state") or {}).get("waiting") or {}
            terminated = (cstatus.get("state") or {}).get("terminated") or {}
            restarts = cstatus.get("restartCount") or 0
            if waiting.get("reason") in STUCK_REASONS:
                problems.append("container %s: %s (%d restarts%s)%s" % (
                    cstatus.get("name"), waiting["reason"], restarts, _last_exit(cstatus),
                    ": " + waiting["message"][:160] if waiting.get("message") and waiting["reason"] != "CrashLoopBackOff"
                    else ""))
            elif terminated and restart_policy != "Never" and phase != "Succeeded" and (
                    terminated.get("exitCode") or (cstatus not in init and restart_policy == "Always")):
                # Between restarts the kubelet may report the last exit instead of CrashLoopBackOff.
                problems.append("container %s: exited %s%s at %s and is being restarted (%d restarts): crash-looping"
                                % (cstatus.get("name"), terminated.get("exitCode"),
                                   " (%s)" % terminated["reason"] if terminated.get("reason") else "",
                                   terminated.get("finishedAt", "?"), restarts))
            elif restarts >= options.restart_warn:
                warnings.append("container %s restarted %d times%s"
                                % (cstatus.get("name"), restarts, _last_exit(cstatus)))
        if phase == "Failed":
            (warnings if _owner_kind(pod) == "Job" or status.get("reason") == "Evicted" else problems).append(
                "Failed%s" % (": %s" % (status.get("message") or status.get("reason")) if status.get("reason") else ""))
        elif phase == "Pending" and not problems:
            scheduled = conditions(pod).get("PodScheduled") or {}
            if scheduled.get("status") == "False" and scheduled.get("message"):
                detail = ": " + scheduled["message"]
            else:
                waiting = ["%s %s" % (c.get("name"), c["state"]["waiting"].get("reason")) for c in statuses
                           if ((c.get("state") or {}).get("waiting") or {}).get("reason")]
                detail = " (%s)" % ", ".join(waiting) if waiting else ""
            warnings.append("Pending" + detail)
        elif phase == "Running" and not problems and not pod_ready(pod):
            warnings.append("Running but not Ready")
        if problems:
            checks.append(check("pod", FAIL, "; ".join(problems + warnings) + where, obj))
        elif warnings:
            checks.append(check("pod", WARN, "; ".join(warnings) + where, obj))
        else:
            checks.append(check("pod", OK, "%s%s" % (phase or "unknown", where), obj))
    return checks


def _images(snap, options):
    """Every started container's image digest must be one the bundle carries."""
    checks = []
    allowed = options.allowed_digests
    for pod in sorted(snap.get("pods") or [], key=name_of):
        status = pod.get("status") or {}
        if (pod.get("metadata") or {}).get("deletionTimestamp") or status.get("phase") in ("Succeeded", "Failed"):
            continue
        obj = "Pod/" + name_of(pod)
        statuses = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
        foreign, seen = [], 0
        for cstatus in statuses:
            if not cstatus.get("imageID"):
                continue  # not pulled or started yet
            seen += 1
            digest = image_digest(cstatus["imageID"])
            if digest is None:
                foreign.append("container %s runs %s (image ID %s), which has no registry digest: it was imported "
                               "or built on the node, not pulled from the offline registry"
                               % (cstatus.get("name"), cstatus.get("image"), cstatus["imageID"]))
            elif digest not in allowed:
                foreign.append("container %s runs %s (%s), a digest the bundle does not carry"
                               % (cstatus.get("name"), cstatus.get("image"), cstatus["imageID"]))
        if foreign:
            checks.append(check("image_source", FAIL, "; ".join(foreign), obj))
        elif seen:
            checks.append(check("image_source", OK, "%d container(s), every image digest from the bundle" % seen, obj))
    return checks


# -- the report -------------------------------------------------------------------------------------

def report(snap, options):
    checks = evaluate(snap, options)
    counts = {s: sum(1 for c in checks if c["status"] == s) for s in (OK, WARN, FAIL)}
    problems = ["%s %s %s: %s" % (c["status"].upper(), c["name"], c["object"], c["reason"])
                for c in checks if c["status"] != OK]
    failed = [c for c in checks if c["status"] == FAIL]
    version = (snap.get("version") or {}).get("gitVersion")
    nodes = node_summary(snap) if "nodes" in snap else []
    if failed:
        summary = "%s is unhealthy: %d of %d checks failed (%s)" % (
            snap["server"], len(failed), len(checks), ", ".join("%s %s" % (c["name"], c["object"]) for c in failed))
    else:
        summary = "%s is healthy: %d checks ok, %d warning(s); %d/%d nodes Ready%s" % (
            snap["server"], counts[OK], counts[WARN], sum(1 for n in nodes if n["ready"]), len(nodes),
            ", %s" % version if version else "")
    return {
        "healthy": not failed,
        "summary": summary,
        "counts": counts,
        "checks": checks,
        "problems": problems,
        "nodes": nodes,
        "readyz": parse_health(snap["readyz"]["text"]) if "readyz" in snap else [],
        "livez": parse_health(snap["livez"]["text"]) if "livez" in snap else [],
        "version": version,
    }


def failure_message(rep):
    failed = [c for c in rep["checks"] if c["status"] == FAIL]
    return "%s. Failed: %s" % (rep["summary"].split(" (", 1)[0], "; ".join(
        "%s %s: %s" % (c["name"], c["object"], c["reason"]) for c in failed))
