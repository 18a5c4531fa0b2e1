#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_health
short_description: Check a kubeadm cluster's health through its API server and report each finding
version_added: 0.1.0
description:
  - Asks the API server, with the address and client certificate of a kubeconfig (by default the
    control plane's C(/etc/kubernetes/admin.conf)), and returns one check per finding, each with a
    C(status) of C(ok), C(warn) or C(fail), a C(reason) and the C(object) it is about.
  - "The checks: C(api_server) answers; C(api_readyz) and C(api_livez) (C(?verbose), every failing
    sub-check named); C(etcd) (the API server's etcd checks in /readyz and /livez); C(api_version);
    C(node_count) (against O(expected_nodes)); C(node_ready) per node (Ready, no MemoryPressure,
    DiskPressure, PIDPressure or NetworkUnavailable, and the kubelet's lease in C(kube-node-lease)
    renewed within its duration, so a stopped kubelet is named about 40 s after it stops, before the
    node controller marks the node NotReady; cordoned nodes warn); C(node_version) per node (against
    O(expected_version)); C(control_plane_pod) (kube-apiserver, kube-controller-manager,
    kube-scheduler and etcd on every control-plane node, Running and Ready); C(coredns); C(deployment)
    and C(daemonset) at their desired counts; C(pod) (not crash-looping or stuck pulling, restart
    counts from O(restart_warn) warn); and, when O(allowed_image_digests) or O(bom_path) is given,
    C(image_source) per pod."
  - "What C(coredns) proves: the C(coredns) Deployment wants replicas and has them available, the
    C(kube-dns) Service has ready endpoints serving 53/UDP (so the pods passed their readiness
    probe, CoreDNS's C(ready) plugin, which answers only once its C(kubernetes) plugin has synced with
    the API server), and each ready pod's readiness endpoint answers the API server's pod proxy from
    the control plane across the pod network (a warning if not). It does not send a DNS query: the
    API server cannot proxy UDP, and a query from a pod is the end-to-end suite's job."
  - "What C(image_source) proves: every started container's C(imageID) (the digest containerd pulled
    it by) is one of the bundle's digests. The nodes pull upstream names (C(registry.k8s.io/...))
    through containerd mirrors, so names prove nothing; digests do. An image imported on a node has no
    registry digest, or one the bundle lacks, and its pod is named."
  - Only reads (GET requests); changes nothing. Uses the Python standard library only, so it runs on
    air-gapped hosts; PyYAML is used for the kubeconfig when present.
  - Fails listing each failed check by name and object, unless O(report_only=true). With
    O(wait=true) it asks again every O(interval) seconds until no check fails or O(timeout) passes,
    then fails with the last report.
options:
  kubeconfig:
    description:
      - Kubeconfig with the API server's address, its CA and a client certificate and key (embedded or as
        files) or a token. Embedded certificates and keys are written to 0600 files in a private
        temporary directory only while they are loaded, then removed.
    type: path
    default: /etc/kubernetes/admin.conf
  context:
    description: Context of the kubeconfig to use. Default is its current context.
    type: str
  api_server:
    description: Use this API server URL (C(https://host:port)) instead of the kubeconfig's.
    type: str
  expected_nodes:
    description: How many nodes must be registered. Unset, any number passes.
    type: int
  expected_version:
    description: Kubernetes version the API server and every kubelet must run, for example C(v1.37.2).
    type: str
  namespaces:
    description:
      - Namespaces whose Deployments, DaemonSets and pods are checked. C(*) means every namespace.
      - The control-plane and CoreDNS checks always read C(kube-system).
    type: list
    elements: str
    default: [kube-system]
  allowed_image_digests:
    description:
      - Digests (C(sha256:...)) every running container's image must have, for example the C(digest) and
        C(manifest) of every image in the bundle's BOM. Checks pods in every namespace.
    type: list
    elements: str
  bom_path:
    description:
      - A bundle BOM (C(<archive>.bom.json)) on the host the module runs on; its images' digests are
        allowed, as with O(allowed_image_digests) (both may be given).
    type: path
  restart_warn:
    description: A container restarted this many times or more makes its pod's check warn.
    type: int
    default: 3
  wait:
    description: Ask again until no check fails or O(timeout) passes.
    type: bool
    default: false
  timeout:
    description: Seconds to keep asking when O(wait=true).
    type: int
    default: 300
  interval:
    description: Seconds between attempts when O(wait=true).
    type: int
    default: 5
  request_timeout:
    description: Seconds to wait for an answer to one request.
    type: int
    default: 10
  report_only:
    description: Return the report without failing when checks fail.
    type: bool
    default: false
extends_documentation_fragment:
  - airgap.kubernetes.attributes
attributes:
  check_mode:
    support: full
    details: The module only reads; check mode runs every check.
  diff_mode:
    support: none
  idempotent:
    support: full
seealso:
  - module: airgap.kubernetes.certificate_expiry
author:
  - airgap.kubernetes maintainers (@airgap)
"""

EXAMPLES = r"""
- name: Check the cluster from the first control plane, waiting up to 5 minutes
  airgap.kubernetes.cluster_health:
    expected_nodes: 3
    expected_version: v1.37.2
    wait: true
    timeout: 300

- name: Check that every running image came from the bundle (digests read on the controller)
  airgap.kubernetes.cluster_health:
    allowed_image_digests: >-
      {{ (lookup('ansible.builtin.file', 'bundle/demo-bundle-v1.37.2-amd64.tar.bom.json') | from_json).images
         | map(attribute='digest') | list }}

- name: Report without failing, from a machine with a kubeconfig
  airgap.kubernetes.cluster_health:
    kubeconfig: ~/.kube/config
    namespaces: ["*"]
    report_only: true
  register: health
  delegate_to: localhost

- name: Show what is wrong
  ansible.builtin.debug:
    msg: "{{ health.problems }}"
"""

RETURN = r"""
healthy:
  description: No check failed (warnings allowed).
  returned: always
  type: bool
summary:
  description: One line saying healthy or not, and which checks failed.
  returned: always
  type: str
  sample: "https://10.0.0.11:6443 is healthy: 44 checks ok, 0 warning(s); 3/3 nodes Ready, v1.37.2"
checks:
  description: Every check, in a fixed order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: >-
        Kind of check: api_server, api_readyz, api_livez, etcd, api_version, api_read, node_count, node_ready,
        node_version, control_plane_pod, coredns, deployment, daemonset, pod, image_source.
      type: str
    status:
      description: ok, warn or fail.
      type: str
    reason:
      description: What was found, in words.
      type: str
    object:
      description: What it is about, for example C(Node/lab-3) or C(Deployment/kube-system/coredns).
      type: str
  sample: [{"name": "node_ready", "status": "fail", "object": "Node/lab-3",
            "reason": "not Ready (Ready=Unknown: Kubelet stopped posting node status., for 52 s)"}]
problems:
  description: The checks that are not ok, one line each (C(FAIL name object reason)).
  returned: always
  type: list
  elements: str
counts:
  description: How many checks are ok, warn and fail.
  returned: always
  type: dict
  sample: {"ok": 44, "warn": 0, "fail": 0}
nodes:
  description: Every node with its roles, Ready, kubelet version, conditions and kubelet lease age.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "lab-1", "roles": ["control-plane"], "ready": true, "version": "v1.37.2",
            "conditions": {"DiskPressure": "False", "Ready": "True"}, "lease_age_seconds": 4}]
readyz:
  description: The API server's /readyz?verbose sub-checks.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "etcd", "ok": true, "reason": "ok"}]
livez:
  description: The API server's /livez?verbose sub-checks.
  returned: always
  type: list
  elements: dict
version:
  description: The API server's version (gitVersion), if it answered.
  returned: always
  type: str
server:
  description: The API server asked.
  returned: always
  type: str
attempts:
  description: How many times the cluster was asked.
  returned: always
  type: int
elapsed:
  description: Seconds from the first request to the report.
  returned: always
  type: float
"""

import json
import re
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.airgap.kubernetes.plugins.module_utils import kube_api
from ansible_collections.airgap.kubernetes.plugins.module_utils import kube_health

ARGUMENT_SPEC = {
    "kubeconfig": {"type": "path", "default": "/etc/kubernetes/admin.conf"},
    "context": {"type": "str"},
    "api_server": {"type": "str"},
    "expected_nodes": {"type": "int"},
    "expected_version": {"type": "str"},
    "namespaces": {"type": "list", "elements": "str", "default": ["kube-system"]},
    "allowed_image_digests": {"type": "list", "elements": "str"},
    "bom_path": {"type": "path"},
    "restart_warn": {"type": "int", "default": 3},
    "wait": {"type": "bool", "default": False},
    "timeout": {"type": "int", "default": 300},
    "interval": {"type": "int", "default": 5},
    "request_timeout": {"type": "int", "default": 10},
    "report_only": {"type": "bool", "default": False},
}


def allowed_digests(params):
    """The union of allowed_image_digests and the BOM's digests, or None when neither is given;
    raises ValueError naming what is wrong."""
    if params["allowed_image_digests"] is None and not params["bom_path"]:
        return None
    digests = set(params["allowed_image_digests"] or [])
    bad = sorted(d for d in digests if not kube_health.DIGEST.match(d))
    if bad:
        raise ValueError("allowed_image_digests: not sha256:<64 hex> digests: %s" % ", ".join(bad))
    if params["bom_path"]:
        try:
            with open(params["bom_path"], encoding="utf-8") as handle:
                bom = json.load(handle)
        except (OSError, ValueError) as exc:
            raise ValueError("cannot read the BOM %s: %s" % (params["bom_path"], exc))
        found = kube_health.bom_digests(bom) if isinstance(bom, dict) else set()
        if not found:
            raise ValueError("the BOM %s lists no image digests" % params["bom_path"])
        digests |= found
    if not digests:
        raise ValueError("allowed_image_digests is empty: every image would be refused")
    return digests


def validate(module):
    params = module.params
    problems = []
    for name, low in (("expected_nodes", 1), ("timeout", 1), ("interval", 1), ("request_timeout", 1),
                      ("restart_warn", 1)):
        if params[name] is not None and params[name] < low:
            problems.append("%s must be at least %d, not %d" % (name, low, params[name]))
    if params["api_server"] and not params["api_server"].startswith("https://"):
        problems.append("api_server must be an https:// URL, not %r" % params["api_server"])
    version = params["expected_version"]
    if version and not re.match(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.+-]+)?$", version):
        problems.append("expected_version must look like v1.37.2, not %r" % params["expected_version"])
    if not params["namespaces"]:
        problems.append("namespaces must name at least one namespace (or '*')")
    if problems:
        module.fail_json(msg="; ".join(problems))


def run(module, clock=time.monotonic, sleep=time.sleep):
    params = module.params
    validate(module)
    try:
        digests = allowed_digests(params)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    options = kube_health.Options(expected_nodes=params["expected_nodes"], expected_version=params["expected_version"],
                                  namespaces=params["namespaces"], allowed_digests=digests,
                                  restart_warn=params["restart_warn"])
    try:
        config = kube_api.load_kubeconfig(params["kubeconfig"], context=params["context"], server=params["api_server"])
        client = kube_api.KubeClient(config, timeout=params["request_timeout"])
    except kube_api.KubeconfigError as exc:
        module.fail_json(msg=str(exc))
    started = clock()
    deadline = started + params["timeout"]
    attempts = 0
    while True:
        attempts += 1
        remaining = deadline - clock()
        timeout = params["request_timeout"] if not params["wait"] else max(1, min(params["request_timeout"], remaining))
        rep = kube_health.report(kube_health.gather(client, options, timeout=timeout), options)
        if rep["healthy"] or not params["wait"] or clock() >= deadline:
            break
        sleep(max(0, min(params["interval"], deadline - clock())))
    rep.update(changed=False, server=client.server, attempts=attempts, elapsed=round(clock() - started, 2))
    for line in rep["problems"]:
        if line.startswith("WARN "):
            module.warn(line[len("WARN "):])
    if not rep["healthy"] and not params["report_only"]:
        message = kube_health.failure_message(rep)
        if params["wait"]:
            message += " (still failing after %d attempt(s) in %g s; timeout %d s)" % (
                attempts, rep["elapsed"], params["timeout"])
        module.fail_json(msg=message, **rep)
    rep["msg"] = rep["summary"]
    module.exit_json(**rep)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    run(module)


if __name__ == "__main__":
    main()
