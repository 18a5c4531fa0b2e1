# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers of the end-to-end suite: kubectl with timeouts, waiting with a deadline, the pods the
tests run, and HTTP from inside a pod. conftest.py turns them into fixtures.

Every call that can block has a timeout, and every wait has a deadline: the suite stops by
itself and says what it was waiting for and what it saw last. A wait is for the condition the
test then asserts on (traffic flowing, not endpoints being ready: wait_answered), never for a
sign that it should soon hold.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time

import yaml

E2E_LABEL = "airgap.kubernetes/e2e"


class KubectlError(AssertionError):
    """kubectl exited non-zero (or timed out); the message has the command and its stderr."""

    def __init__(self, command, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr
        super().__init__("`%s` failed (rc=%s): %s" % (" ".join(command[2:]), returncode,
                                                      (stderr or stdout or "").strip()[-2000:]))


class Kubectl:
    """kubectl with the cluster's kubeconfig. Every call has a timeout (the process is killed when
    it runs out), and calls that are plain API requests carry --request-timeout too."""

    STREAMING = ("exec", "port-forward", "logs", "attach", "wait")

    def __init__(self, binary, kubeconfig):
        self.binary, self.kubeconfig = str(binary), str(kubeconfig)

    def command(self, *args, namespace=None, request_timeout=None):
        cmd = [self.binary, "--kubeconfig=%s" % self.kubeconfig]
        if request_timeout:
            cmd.append("--request-timeout=%ds" % request_timeout)
        if namespace:
            cmd += ["--namespace", namespace]
        return cmd + [str(a) for a in args]

    def run(self, *args, namespace=None, timeout=60, check=True, input=None):  # pylint: disable=redefined-builtin
        streaming = bool(args) and args[0] in self.STREAMING
        cmd = self.command(*args, namespace=namespace,
                           request_timeout=None if streaming else max(5, min(timeout, 30)))
        try:
            proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            raise KubectlError(cmd, "timeout after %ss" % timeout, exc.stdout or "", exc.stderr or "") from None
        if check and proc.returncode != 0:
            raise KubectlError(cmd, proc.returncode, proc.stdout, proc.stderr)
        return proc

    def __call__(self, *args, **kwargs):
        return self.run(*args, **kwargs).stdout

    def json(self, *args, **kwargs):
        return json.loads(self.run(*args, "-o", "json", **kwargs).stdout)

    def items(self, kind, namespace=None, selector=None, all_namespaces=False, timeout=60):
        args = ["get", kind]
        if selector:
            args += ["-l", selector]
        if all_namespaces:
            args.append("--all-namespaces")
        return self.json(*args, namespace=namespace, timeout=timeout)["items"]

    def apply(self, *objects, namespace=None, timeout=60):
        return self("apply", "-f", "-", namespace=namespace, timeout=timeout,
                    input=yaml.safe_dump_all(objects, sort_keys=False))

    def delete(self, *objects, namespace=None, timeout=120):
        return self("delete", "--ignore-not-found", "--wait=true", "--timeout=%ds" % (timeout - 10),
                    "-f", "-", namespace=namespace, timeout=timeout,
                    input=yaml.safe_dump_all(objects, sort_keys=False))


def wait_until(what, probe, timeout, interval=2.0):
    """Call probe() until it returns (True, detail); fail after `timeout` seconds with the last
    detail. A KubectlError inside probe counts as "not yet" (the API may be restarting)."""
    __tracebackhide__ = True  # pylint: disable=unused-variable
    deadline = time.monotonic() + timeout
    detail = "never probed"
    while True:
        try:
            done, detail = probe()
        except KubectlError as exc:
            done, detail = False, str(exc)
        if done:
            return detail
        if time.monotonic() >= deadline:
            raise AssertionError("%s: not within %ss; last seen: %s" % (what, timeout, detail))
        time.sleep(interval)


def image_name(ref):
    """An image reference without its digest, in the BOM's spelling (docker.io/library/...)."""
    name = ref.split("@", 1)[0]
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = "docker.io/library/" + name
    elif "." not in first and ":" not in first and first != "localhost":
        name = "docker.io/" + name
    return name


# --- pods -----------------------------------------------------------------------------------------

def container_states(pod):
    """'name: state' for each container of a pod, for messages."""
    out = []
    for status in pod.get("status", {}).get("containerStatuses") or []:
        state = status.get("state") or {}
        kind = next(iter(state), "unknown")
        reason = (state.get(kind) or {}).get("reason") or ""
        ready = "" if status.get("ready") else " (not ready)"
        out.append("%s: %s%s%s" % (status["name"], kind, " " + reason if reason else "", ready))
    return out


def pod_ready(pod):
    conditions = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions") or []}
    return pod.get("status", {}).get("phase") == "Running" and conditions.get("Ready") == "True"


def describe(pod):
    return "%s/%s on %s: %s [%s]" % (pod["metadata"].get("namespace"), pod["metadata"]["name"],
                                     pod["spec"].get("nodeName") or "(unscheduled)",
                                     pod.get("status", {}).get("phase"), ", ".join(container_states(pod)))


def wait_pods_ready(kubectl, namespace, names, timeout=180):
    """Wait until every named pod is Running and Ready; return the pods."""
    __tracebackhide__ = True  # pylint: disable=unused-variable
    names = set(names)

    def probe():
        pods = {p["metadata"]["name"]: p for p in kubectl.items("pods", namespace=namespace)}
        missing = names - set(pods)
        waiting = [describe(pods[n]) for n in sorted(names & set(pods)) if not pod_ready(pods[n])]
        if missing or waiting:
            return False, "missing %s; not ready: %s" % (sorted(missing), "; ".join(waiting))
        return True, [pods[n] for n in sorted(names)]

    return wait_until("pods %s in %s Running and Ready" % (sorted(names), namespace), probe, timeout)


def on_node(node):
    return {"kubernetes.io/hostname": node}


def hello_pod(name, image, node, labels):
    """The sample app's image as a server: a page (and ?format=text a line) naming its pod and node."""
    env = [{"name": n, "valueFrom": {"fieldRef": {"fieldPath": p}}} for n, p in (
        ("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace"),
        ("POD_IP", "status.podIP"), ("NODE_NAME", "spec.nodeName"))]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "nodeSelector": on_node(node),
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "hello", "image": image, "imagePullPolicy": "IfNotPresent", "env": env,
                "ports": [{"containerPort": 8080, "name": "http"}],
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 2},
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
            }],
        },
    }


def shell_pod(name, image, node, labels):
    """A client with bash and coreutils (the kube-proxy image is Debian-based): it waits, and the
    tests `kubectl exec` into it."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "nodeSelector": on_node(node),
            "terminationGracePeriodSeconds": 0,
            "containers": [{
                "name": "shell", "image": image, "imagePullPolicy": "IfNotPresent",
                "command": ["sleep", "86400"],
                "resources": {"requests": {"cpu": "10m", "memory": "8Mi"}, "limits": {"memory": "32Mi"}},
            }],
        },
    }


def service(name, selector, port=80, target=8080):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": "ClusterIP", "selector": dict(selector),
                     "ports": [{"name": "http", "port": port, "targetPort": target}]}}


# --- HTTP from inside a pod -----------------------------------------------------------------------

# bash's /dev/tcp (resolves with the pod's resolv.conf, i.e. cluster DNS), HTTP/1.0 so that the
# server closes the connection; each request has its own deadline and prints FAIL when it fails.
_GET = ("exec 3<>/dev/tcp/$0/$1 && printf 'GET %s HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n' \"$2\" \"$0\" >&3 "
        "&& cat <&3")
_LOOP = ("for i in $(seq {count}); do out=$(timeout {each} bash -c {get} {host} {port} {path} 2>&1) "
         "&& printf '%s\\n' \"$out\" | tail -n 1 || echo FAIL; done")


def http_get_many(kubectl, namespace, pod, host, count=1, port=80, path="/?format=text", each=3):
    """`count` GET requests from `pod` to host:port, each on a new connection; one line each: the
    body's last line, or FAIL."""
    script = _LOOP.format(count=int(count), each=int(each), get=shlex.quote(_GET), host=shlex.quote(host),
                          port=int(port), path=shlex.quote(path))
    out = kubectl("exec", pod, "--", "bash", "-c", script, namespace=namespace,
                  timeout=count * (each + 2) + 30)
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    assert len(lines) == count, "expected %d answers, got: %r" % (count, out)
    return lines


def parse_answer(line):
    """'pod=x node=y ...' -> {'pod': 'x', 'node': 'y', ...}; FAIL -> {}."""
    return dict(part.split("=", 1) for part in line.split() if "=" in part)


def wait_answered(kubectl, namespace, client, target, pods, timeout=90):
    """Wait for the data path from pod `client` to Service `target` itself: send requests (three
    per try, each on a new connection) until each pod named in `pods` has answered one; fail at
    the deadline with the last answers. Returns the seconds it took.

    Pods Running and Ready, and the Service's EndpointSlices ready, are not a working path: the
    kube-proxy on the client's node programs the Service's rules some time after the
    EndpointSlices change (a sync of its own, at least minSyncPeriod apart, slower on a busy
    machine), and CoreDNS learns a new Service's name from its own watch. Until both have
    happened, a request fails. Kubernetes sets no bound on that window (kube-proxy measures it
    as kubeproxy_network_programming_duration_seconds; sig-scalability's SLO for it has no
    figure yet), so a test waits for traffic to flow, with a deadline, before it asserts
    anything about traffic.
    """
    __tracebackhide__ = True  # pylint: disable=unused-variable
    started = time.monotonic()
    wanted, seen, last = set(pods), set(), []

    def probe():
        answers = [parse_answer(line) for line in http_get_many(kubectl, namespace, client, target, count=3)]
        last[:] = [a.get("pod", "FAIL") for a in answers]
        seen.update(a["pod"] for a in answers if a.get("pod") in wanted)
        return seen == wanted, "answered by %s of %s; last answers %s" % (sorted(seen), sorted(wanted), last)

    wait_until("%s -> Service %s answered by %s" % (client, target, sorted(wanted)), probe, timeout, interval=1)
    return time.monotonic() - started
