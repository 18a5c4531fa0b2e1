#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: kubeadm_state
short_description: Report the kubeadm state a host holds and what a re-run may do with it
version_added: 0.1.0
description:
  - Reads, and never changes, what kubeadm leaves on a host - the cluster CA, the static Pod
    manifests of the control plane, etcd's member data, the kubeconfigs, the kubelet's
    configuration and client certificate - and the C(kubeadm init), C(join), C(reset) or
    C(upgrade) commands still running there (a run whose SSH connection dropped leaves them
    running).
  - "For a control-plane host it answers RV(init): V(init) when the host holds no kubeadm state at
    all (only then may C(kubeadm init) run, and only then may a failed init be undone with
    C(kubeadm reset)); V(complete) when it holds control-plane state, with the C(kubeadm init
    phase) steps that state still lacks (RV(init.phases)): files (a removed C(admin.conf), say)
    and, with O(api=cluster), the objects an interrupted init never created in the API
    (C(kube-system/kubeadm-config), the bootstrap-token RBAC, C(kube-public/cluster-info),
    C(kube-proxy), CoreDNS); V(refuse) when it can do neither safely."
  - "For a worker it answers RV(join): V(none) (a registered node), V(join) (nothing of kubeadm's on
    the host), V(rejoin) (a join that the join role started - its marker file RV(join_marker) is
    there - and that never registered the node: only then may C(kubeadm reset) run), or V(refuse)
    (state this collection did not create, or control-plane state)."
  - With O(api=node) or O(api=cluster) it asks the API server (Python standard library over HTTPS
    with the kubeconfig's client certificate) whether the Node object of O(node_name) exists.
options:
  api:
    description:
      - What to ask the API server. V(none) reads files and processes only. V(node) also asks
        whether the Node O(node_name) exists, with the kubelet's credentials
        (C(kubelet.conf)), as a worker can. V(cluster) asks, with C(admin.conf), for every object
        C(kubeadm init) creates in the API and for the Node's control-plane label.
    type: str
    choices: [none, node, cluster]
    default: none
  node_name:
    description: The Node's name. Required with O(api=node) and O(api=cluster).
    type: str
  kubeconfig:
    description:
      - The kubeconfig for O(api). Default C(<kubernetes_dir>/kubelet.conf) with O(api=node) and
        C(<kubernetes_dir>/admin.conf) with O(api=cluster).
    type: path
  kubernetes_dir:
    description: kubeadm's configuration directory (kubeconfigs, C(pki/), C(manifests/)).
    type: path
    default: /etc/kubernetes
  etcd_data_dir:
    description: The local etcd's data directory.
    type: path
    default: /var/lib/etcd
  kubelet_dir:
    description: The kubelet's directory (its configuration and C(pki/)).
    type: path
    default: /var/lib/kubelet
  request_timeout:
    description: Seconds to wait for each answer of the API server.
    type: int
    default: 10
notes:
  - Only one control plane is supported by the collection, so C(upload-certs) (needed only to join
    further control planes with C(--upload-certs)) is never among RV(init.phases).
  - C(super-admin.conf) is never asked for again once removed, since sites remove it on purpose and
    nothing after C(kubeadm init) needs it.
extends_documentation_fragment:
  - airgap.kubernetes.attributes
attributes:
  check_mode:
    support: full
    details: The module only reads files, C(/proc) and the API; it never reports a change.
  diff_mode:
    support: none
  idempotent:
    support: full
seealso:
  - module: airgap.kubernetes.kubeadm_token
author:
  - airgap.kubernetes maintainers (@airgap)
"""

EXAMPLES = r"""
- name: Find out what kubeadm state the control-plane host holds
  airgap.kubernetes.kubeadm_state:
  register: state

- name: Initialise only a host without any kubeadm state
  ansible.builtin.command:
    argv: [kubeadm, init, --config, /etc/kubernetes/kubeadm-config.yaml, --skip-token-print]
  when: state.init.action == 'init'
  changed_when: true

- name: Find the init phases an interrupted kubeadm init left undone
  airgap.kubernetes.kubeadm_state:
    api: cluster
    node_name: cp1
  register: state

- name: Run them
  ansible.builtin.command:
    argv: "{{ ['kubeadm'] + item.argv + ['--config', '/etc/kubernetes/kubeadm-config.yaml'] }}"
  loop: "{{ state.init.phases }}"
  loop_control:
    label: "{{ item.name }}"
  changed_when: true

- name: Find out whether a worker is a node, needs joining, or holds a half-finished join
  airgap.kubernetes.kubeadm_state:
    api: node
    node_name: w1
  register: worker
"""

RETURN = r"""
initialised:
  description: The host holds some kubeadm state (any of RV(state)); C(kubeadm init) must not run.
  returned: always
  type: bool
control_plane:
  description: The host holds control-plane state (the CA key, a control-plane static Pod manifest or etcd member data).
  returned: always
  type: bool
state:
  description: What kubeadm state exists, by path.
  returned: always
  type: list
  elements: str
  sample: [/etc/kubernetes/pki/ca.key, /etc/kubernetes/manifests/kube-apiserver.yaml, /var/lib/etcd/member]
kubeadm_running:
  description: kubeadm init, join, reset or upgrade commands running on the host (their subcommand words only; never their arguments).
  returned: always
  type: list
  elements: dict
  sample: [{"pid": 4242, "command": "kubeadm join"}]
join_marker:
  description: The file the join role writes before C(kubeadm join) and removes after it succeeded.
  returned: always
  type: dict
  sample: {"path": "/etc/kubernetes/airgap-join-in-progress", "exists": false}
node:
  description: Whether the Node O(node_name) exists; V(null) when it was not or could not be asked (RV(node.detail) says why).
  returned: always
  type: dict
  contains:
    name:
      description: O(node_name).
      type: str
    registered:
      description: V(true) when the Node exists, V(false) when the API server says it does not, V(null) when not known.
      type: bool
    detail:
      description: The answer, or why there is none.
      type: str
  sample: {"name": "lab-3", "registered": true, "detail": "GET https://192.0.2.10:6443/api/v1/nodes/lab-3: 200"}
init:
  description: What a control-plane run may do.
  returned: always
  type: dict
  contains:
    action:
      description: V(init), V(complete) or V(refuse).
      type: str
    reason:
      description: Why, in a sentence.
      type: str
    phases:
      description:
        - The C(kubeadm init phase) steps still needed, in kubeadm's order, each with C(argv)
          (after C(kubeadm); add C(--config)) and what is missing. Empty when nothing is.
      type: list
      elements: dict
      sample: [{"name": "upload-config kubeadm", "argv": ["init", "phase", "upload-config", "kubeadm"],
                "missing": ["ConfigMap kube-system/kubeadm-config"]}]
join:
  description: What a worker run may do.
  returned: always
  type: dict
  contains:
    action:
      description: V(none), V(join), V(rejoin) (C(kubeadm reset), then join) or V(refuse).
      type: str
    reason:
      description: Why, in a sentence.
      type: str
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.airgap.kubernetes.plugins.module_utils import kube_api

PROC = "/proc"
JOIN_MARKER = "airgap-join-in-progress"
RUNNING_SUBCOMMANDS = ("init", "join", "reset", "upgrade")

CONTROL_PLANE_MANIFESTS = ("etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml")
# What `kubeadm init phase certs all` writes. The CA keys may be kept off the host (kubeadm's
# external CA mode), so their absence alone does not call for the phase.
CERTS = ("ca.crt", "apiserver.crt", "apiserver.key", "apiserver-kubelet-client.crt", "apiserver-kubelet-client.key",
         "front-proxy-ca.crt", "front-proxy-client.crt", "front-proxy-client.key", "etcd/ca.crt",
         "etcd/server.crt", "etcd/server.key", "etcd/peer.crt", "etcd/peer.key", "etcd/healthcheck-client.crt",
         "etcd/healthcheck-client.key", "apiserver-etcd-client.crt", "apiserver-etcd-client.key", "sa.key", "sa.pub")
# kubeconfig files a control plane needs, with the phase that writes each (super-admin.conf is
# deliberately absent: see the notes).
KUBECONFIGS = (("admin.conf", "admin"), ("kubelet.conf", "kubelet"), ("controller-manager.conf", "controller-manager"),
               ("scheduler.conf", "scheduler"))
STATIC_PODS = (("kube-apiserver.yaml", "apiserver"), ("kube-controller-manager.yaml", "controller-manager"),
               ("kube-scheduler.yaml", "scheduler"))

CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
# The objects each API phase of `kubeadm init` creates (kubeadm v1.37: cmd/kubeadm/app/phases).
# kubeadm:cluster-admins binds admin.conf's group; init creates it before its first API phase.
API_PHASES = (
    (("upload-config", "kubeadm"), (
        ("ClusterRoleBinding", None, "kubeadm:cluster-admins"),
        ("ConfigMap", "kube-system", "kubeadm-config"),
        ("Role", "kube-system", "kubeadm:nodes-kubeadm-config"),
        ("RoleBinding", "kube-system", "kubeadm:nodes-kubeadm-config"))),
    (("upload-config", "kubelet"), (
        ("ConfigMap", "kube-system", "kubelet-config"),
        ("Role", "kube-system", "kubeadm:kubelet-config"),
        ("RoleBinding", "kube-system", "kubeadm:kubelet-config"))),
    (("mark-control-plane",), ()),  # the Node's label, checked apart
    (("bootstrap-token", "--skip-token-print"), (
        ("ClusterRole", None, "kubeadm:get-nodes"),
        ("ClusterRoleBinding", None, "kubeadm:get-nodes"),
        ("ClusterRoleBinding", None, "kubeadm:kubelet-bootstrap"),
        ("ClusterRoleBinding", None, "kubeadm:node-autoapprove-bootstrap"),
        ("ClusterRoleBinding", None, "kubeadm:node-autoapprove-certificate-rotation"),
        ("ClusterRoleBinding", None, "kubeadm:apiserver-kubelet-client"),
        ("ConfigMap", "kube-public", "cluster-info"),
        ("Role", "kube-public", "kubeadm:bootstrap-signer-clusterinfo"),
        ("RoleBinding", "kube-public", "kubeadm:bootstrap-signer-clusterinfo"))),
    (("addon", "coredns"), (
        ("ConfigMap", "kube-system", "coredns"),
        ("ServiceAccount", "kube-system", "coredns"),
        ("ClusterRole", None, "system:coredns"),
        ("ClusterRoleBinding", None, "system:coredns"),
        ("Deployment", "kube-system", "coredns"),
        ("Service", "kube-system", "kube-dns"))),
    (("addon", "kube-proxy"), (
        ("ConfigMap", "kube-system", "kube-proxy"),
        ("ServiceAccount", "kube-system", "kube-proxy"),
        ("ClusterRoleBinding", None, "kubeadm:node-proxier"),
        ("Role", "kube-system", "kube-proxy"),
        ("RoleBinding", "kube-system", "kube-proxy"),
        ("DaemonSet", "kube-system", "kube-proxy"))),
)
# kubeadm's order of the init phases; the file phases come before wait-control-plane.
PHASE_ORDER = ("certs", "kubeconfig", "etcd", "control-plane", "kubelet-start", "upload-config", "mark-control-plane",
               "bootstrap-token", "kubelet-finalize", "addon")

_RESOURCES = {
    "ConfigMap": ("/api/v1", "configmaps"), "ServiceAccount": ("/api/v1", "serviceaccounts"),
    "Service": ("/api/v1", "services"), "Deployment": ("/apis/apps/v1", "deployments"),
    "DaemonSet": ("/apis/apps/v1", "daemonsets"),
    "Role": ("/apis/rbac.authorization.k8s.io/v1", "roles"),
    "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings"),
    "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", "clusterroles"),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings"),
}
_WORD = re.compile(r"^[a-z][a-z-]*$")


class Paths:
    """Where kubeadm keeps each piece of state."""

    def __init__(self, kubernetes_dir, etcd_data_dir, kubelet_dir):
        self.kubernetes_dir, self.etcd_data_dir, self.kubelet_dir = kubernetes_dir, etcd_data_dir, kubelet_dir

    def k8s(self, *parts):
        return os.path.join(self.kubernetes_dir, *parts)

    def pki(self, name):
        return self.k8s("pki", name)

    def manifest(self, name):
        return self.k8s("manifests", name)

    def kubelet(self, *parts):
        return os.path.join(self.kubelet_dir, *parts)

    @property
    def etcd_member(self):
        return os.path.join(self.etcd_data_dir, "member")

    @property
    def marker(self):
        return self.k8s(JOIN_MARKER)

    def control_plane_state(self):
        return [self.pki("ca.key")] + [self.manifest(name) for name in CONTROL_PLANE_MANIFESTS] + [self.etcd_member]

    def node_state(self):
        """What kubeadm init or join leaves on any node."""
        return ([self.pki("ca.crt")] + [self.k8s(name) for name in
                                        ("admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf",
                                         "kubelet.conf", "bootstrap-kubelet.conf")]
                + [self.kubelet("config.yaml"), self.kubelet("kubeadm-flags.env"),
                   self.kubelet("pki", "kubelet-client-current.pem")])


def running_kubeadm(proc=None):
    """kubeadm init/join/reset/upgrade processes: pid and subcommand words only (arguments may hold a token)."""
    proc = proc or PROC
    found = []
    try:
        pids = [name for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        return found
    for pid in pids:
        try:
            with open(os.path.join(proc, pid, "cmdline"), "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        argv = [arg.decode("utf-8", "replace") for arg in argv if arg]
        if len(argv) < 2 or os.path.basename(argv[0]) != "kubeadm" or argv[1] not in RUNNING_SUBCOMMANDS:
            continue
        words = ["kubeadm"]
        for arg in argv[1:4]:
            if not _WORD.match(arg):
                break
            words.append(arg)
        found.append({"pid": int(pid), "command": " ".join(words)})
    return sorted(found, key=lambda entry: entry["pid"])


def kubelet_conf_embeds_client_cert(path):
    """True when kubelet.conf's user carries its certificate inline (what kubelet-finalize replaces
    with the rotating kubelet-client-current.pem); None when it cannot be read."""
    try:
        data = kube_api.read_kubeconfig_text(path)
    except kube_api.KubeconfigError:
        return None
    users = data.get("users") or []
    return any(isinstance(user, dict) and (user.get("user") or {}).get("client-certificate-data") for user in users)


def host_phases(paths, exists):
    """The init phases whose files are missing on a host with control-plane state."""
    phases = []

    def add(argv, missing):
        phases.append({"name": " ".join(argv), "argv": ["init", "phase"] + list(argv), "missing": missing})

    missing = [paths.pki(name) for name in CERTS if not exists(paths.pki(name))]
    if missing:
        add(("certs", "all"), missing)
    for name, phase in KUBECONFIGS:
        if not exists(paths.k8s(name)):
            add(("kubeconfig", phase), [paths.k8s(name)])
    if not exists(paths.manifest("etcd.yaml")):
        add(("etcd", "local"), [paths.manifest("etcd.yaml")])
    for name, phase in STATIC_PODS:
        if not exists(paths.manifest(name)):
            add(("control-plane", phase), [paths.manifest(name)])
    missing = [p for p in (paths.kubelet("config.yaml"), paths.kubelet("kubeadm-flags.env")) if not exists(p)]
    if missing:
        add(("kubelet-start",), missing)
    kubelet_conf = paths.k8s("kubelet.conf")
    if exists(kubelet_conf) and exists(paths.kubelet("pki", "kubelet-client-current.pem")) \
            and kubelet_conf_embeds_client_cert(kubelet_conf):
        add(("kubelet-finalize", "enable-client-cert-rotation"),
            ["%s pointing at the rotating %s" % (kubelet_conf, paths.kubelet("pki", "kubelet-client-current.pem"))])
    return phases


def object_path(kind, namespace, name):
    prefix, plural = _RESOURCES[kind]
    if namespace:
        return "%s/namespaces/%s/%s/%s" % (prefix, namespace, plural, kube_api.quote(name))
    return "%s/%s/%s" % (prefix, plural, kube_api.quote(name))


def object_label(kind, namespace, name):
    return "%s %s" % (kind, "%s/%s" % (namespace, name) if namespace else name)


class API:
    """The few GET requests this module makes; an answer other than 200 or 404 raises KubeAPIError."""

    def __init__(self, client):
        self.client = client
        self.seen = {}

    def get(self, path):
        """The object, or None when it does not exist (404); each path is asked once."""
        if path not in self.seen:
            try:
                self.seen[path] = self.client.get_json(path)
            except kube_api.KubeAPIError as exc:
                if exc.status != 404:
                    raise
                self.seen[path] = None
        return self.seen[path]


def api_phases(api, node):
    """The API phases whose objects are missing. admin.conf refused (403) before init's first API
    phase bound its group (kubeadm:cluster-admins): every API phase is still to do."""
    try:
        api.get(object_path("ClusterRoleBinding", None, "kubeadm:cluster-admins"))
    except kube_api.KubeAPIError as exc:
        if exc.status != 403:
            raise
        return [{"name": " ".join(a for a in argv if not a.startswith("--")), "argv": ["init", "phase"] + list(argv),
                 "missing": ["admin.conf is refused (HTTP 403): its group kubeadm:cluster-admins is not bound yet, "
                             "which kubeadm does before its first API phase"]}
                for argv, _objects in API_PHASES]
    phases = []
    for argv, objects in API_PHASES:
        if argv[0] == "mark-control-plane":
            labels = ((node or {}).get("metadata") or {}).get("labels") or {}
            missing = [] if CONTROL_PLANE_LABEL in labels else [
                "label %s on Node %s" % (CONTROL_PLANE_LABEL, (node or {}).get("metadata", {}).get("name", "(absent)"))]
        else:
            missing = [object_label(*obj) for obj in objects if api.get(object_path(*obj)) is None]
        if missing:
            phases.append({"name": " ".join(a for a in argv if not a.startswith("--")),
                           "argv": ["init", "phase"] + list(argv), "missing": missing})
    return phases


def ordered(phases):
    return sorted(phases, key=lambda p: PHASE_ORDER.index(p["argv"][2]))


def decide_init(paths, exists, state, control_plane, phases):
    if not state:
        return {"action": "init", "reason": "the host holds no kubeadm state", "phases": []}
    if not control_plane:
        return {"action": "refuse", "phases": [],
                "reason": "the host holds kubeadm node state (%s) but no control-plane state (no CA key, no "
                          "control-plane manifest, no etcd member data): it looks like another cluster's node, "
                          "which is neither initialised over nor reset" % ", ".join(state)}
    if any(p["argv"][2:4] == ["kubeconfig", "admin"] for p in phases) and not exists(paths.pki("ca.key")):
        return {"action": "refuse", "phases": phases,
                "reason": "%s is missing and the CA key %s is not on the host (kept elsewhere?), so kubeadm cannot "
                          "write a new one: put admin.conf back, or the CA key for the run"
                          % (paths.k8s("admin.conf"), paths.pki("ca.key"))}
    if phases:
        return {"action": "complete", "phases": phases,
                "reason": "the host holds control-plane state (%s); an earlier init did not finish or part of its "
                          "state was removed: %s" % (", ".join(sorted(set(state) & set(paths.control_plane_state()))),
                                                     "; ".join(p["name"] for p in phases))}
    return {"action": "complete", "phases": [], "reason": "the control plane is initialised; nothing is missing"}


def decide_join(paths, exists, state, control_plane, node, marker):
    kubelet_conf = exists(paths.k8s("kubelet.conf"))
    registered = node["registered"]
    if kubelet_conf and registered:
        return verdict("none", "the host is the registered Node %s", node["name"])
    if kubelet_conf and registered is None:
        if marker:
            return verdict("refuse", "a join this role started (%s) may not have finished, and whether Node %s "
                           "registered cannot be told: %s", paths.marker, node["name"], node["detail"])
        return verdict("none", "the host has %s (a node); whether Node %s is registered cannot be told (%s), so it "
                       "is left alone", paths.k8s("kubelet.conf"), node["name"], node["detail"])
    if control_plane:
        return verdict("refuse", "the host holds control-plane state (%s) and is not a registered Node: the join "
                       "role never joins or resets it",
                       ", ".join(p for p in paths.control_plane_state() if exists(p)))
    if marker and state:
        return verdict("rejoin", "the join this role started (%s) never registered Node %s; what it left (%s) is "
                       "undone with kubeadm reset and the host joins again", paths.marker, node["name"],
                       ", ".join(state))
    if marker:
        return verdict("join", "a join this role started (%s) left nothing behind", paths.marker)
    if state:
        return verdict("refuse", "the host holds kubeadm state (%s) that this role did not create (no %s) and Node "
                       "%s is not registered; nothing is deleted: check the host, and run kubeadm reset on it "
                       "yourself if it is to join afresh", ", ".join(state), paths.marker, node["name"])
    return verdict("join", "the host holds no kubeadm state")


def verdict(action, reason, *args):
    return {"action": action, "reason": reason % args if args else reason}


def check_node(params, paths):
    """Ask the API server whether the Node exists: (node object or None, summary dict)."""
    summary = {"name": params["node_name"], "registered": None, "detail": "not asked (api=none)"}
    if params["api"] == "none":
        return None, summary, None
    kubeconfig = params["kubeconfig"] or paths.k8s("admin.conf" if params["api"] == "cluster" else "kubelet.conf")
    if not os.path.exists(kubeconfig):
        summary["detail"] = "%s does not exist" % kubeconfig
        return None, summary, None
    try:
        client = kube_api.KubeClient(kube_api.load_kubeconfig(kubeconfig), timeout=params["request_timeout"])
    except kube_api.KubeconfigError as exc:
        summary["detail"] = str(exc)
        return None, summary, None
    api = API(client)
    path = "/api/v1/nodes/%s" % kube_api.quote(params["node_name"])
    try:
        node = api.get(path)
    except kube_api.KubeAPIError as exc:
        summary["detail"] = str(exc)
        return None, summary, api
    summary["registered"] = node is not None
    summary["detail"] = "GET %s%s: %s" % (client.server, path, "200" if node is not None else "404 (no such Node)")
    return node, summary, api


def run(module, proc=None):
    params = module.params
    paths = Paths(params["kubernetes_dir"], params["etcd_data_dir"], params["kubelet_dir"])
    exists = os.path.exists
    control_plane = [p for p in paths.control_plane_state() if exists(p)]
    state = control_plane + [p for p in paths.node_state() if exists(p)]
    marker = exists(paths.marker)

    node, node_summary, api = check_node(params, paths)
    phases = host_phases(paths, exists) if control_plane else []
    if control_plane and params["api"] == "cluster":
        if api is None:
            module.fail_json(msg="cannot ask the API server about %s: %s" % (params["node_name"], node_summary["detail"]))
        try:
            phases += api_phases(api, node)
        except kube_api.KubeAPIError as exc:
            module.fail_json(msg="cannot tell which kubeadm init phases %s still needs: %s"
                             % (params["node_name"], exc))
    phases = ordered(phases)

    module.exit_json(
        changed=False,
        initialised=bool(state),
        control_plane=bool(control_plane),
        state=state,
        kubeadm_running=running_kubeadm(proc),
        join_marker={"path": paths.marker, "exists": marker},
        node=node_summary,
        init=decide_init(paths, exists, state, bool(control_plane), phases),
        join=decide_join(paths, exists, state, bool(control_plane), node_summary, marker),
    )


ARGUMENT_SPEC = {
    "api": {"type": "str", "choices": ["none", "node", "cluster"], "default": "none"},
    "node_name": {"type": "str"},
    "kubeconfig": {"type": "path"},
    "kubernetes_dir": {"type": "path", "default": "/etc/kubernetes"},
    "etcd_data_dir": {"type": "path", "default": "/var/lib/etcd"},
    "kubelet_dir": {"type": "path", "default": "/var/lib/kubelet"},
    "request_timeout": {"type": "int", "default": 10},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           required_if=[("api", "node", ["node_name"]), ("api", "cluster", ["node_name"])])
    run(module)


if __name__ == "__main__":
    main()
