# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pods on different workers find and reach each other through Services (cluster DNS, kube-proxy,
the CNI's routes between nodes), and NetworkPolicy is enforced.

Two workers, A and B: a pod `solo` on B behind Service `solo`; pods `web-a` on A and `web-b` on
B behind Service `web`; clients on A (bash from the kube-proxy image; the sample app's image
has no shell): `client` (labelled role=client) and `stranger` (no such label).

Each test first waits, with a deadline, for the traffic it asserts on to flow
(clusterlib.wait_answered), then asserts several requests in a row. Pods and EndpointSlices
being ready is not enough: kube-proxy on node A programs a new Service's rules some time later
(a window of up to seconds on a busy machine, in which the first request failed once), and no
user waits for an EndpointSlice either; they retry until the Service answers.
"""

from __future__ import annotations

import collections

import pytest

from clusterlib import (hello_pod, http_get_many, parse_answer, service, shell_pod, wait_answered, wait_pods_ready,
                        wait_until)


@pytest.fixture(name="net", scope="module")
def fixture_net(cluster, images, kubectl, namespace):
    assert len(cluster["workers"]) >= 2, "needs two workers, the cluster file has %s" % cluster["workers"]
    node_a, node_b = cluster["workers"][:2]
    objects = [
        hello_pod("solo", images["hello"], node_b, {"app": "solo"}),
        hello_pod("web-a", images["hello"], node_a, {"app": "web"}),
        hello_pod("web-b", images["hello"], node_b, {"app": "web"}),
        shell_pod("client", images["shell"], node_a, {"role": "client"}),
        shell_pod("stranger", images["shell"], node_a, {"role": "stranger"}),
        service("solo", {"app": "solo"}),
        service("web", {"app": "web"}),
    ]
    kubectl.apply(*objects, namespace=namespace)
    pods = wait_pods_ready(kubectl, namespace, ["solo", "web-a", "web-b", "client", "stranger"])
    services = {s["metadata"]["name"]: s for s in kubectl.items("services", namespace=namespace)}
    return {"ns": namespace, "a": node_a, "b": node_b, "services": services,
            "domain": cluster["config"]["network"]["clusterDomain"],
            "pods": {p["metadata"]["name"]: p for p in pods}}


def get(kubectl, net, client, target, count=1):
    return http_get_many(kubectl, net["ns"], client, target, count=count)


def test_a_pod_resolves_and_reaches_a_service_whose_pod_is_on_the_other_worker(kubectl, net):
    """client (on A) asks Service solo by its short name until solo (on B) answers, then the name
    resolves to the Service's address and five new connections in a row reach solo on B."""
    waited = wait_answered(kubectl, net["ns"], "client", "solo", ["solo"])
    print("client -> solo answered after %.1f s of waiting" % waited)
    cluster_ip = net["services"]["solo"]["spec"]["clusterIP"]
    # The short name, through the pod's search path, as an application would ask.
    resolved = kubectl("exec", "client", "--", "getent", "hosts", "solo", namespace=net["ns"], timeout=30).split()
    assert resolved[:1] == [cluster_ip], "solo resolved to %s, the Service has %s" % (resolved, cluster_ip)
    assert resolved[1:2] == ["solo.%s.svc.%s" % (net["ns"], net["domain"])], resolved

    answers = [parse_answer(line) for line in get(kubectl, net, "client", "solo", count=5)]
    assert all(a.get("pod") == "solo" and a.get("node") == net["b"] for a in answers), \
        "client on %s asked solo (on %s): %s" % (net["a"], net["b"], answers)
    assert net["pods"]["client"]["spec"]["nodeName"] == net["a"]


def test_a_cluster_ip_service_spreads_requests_over_pods_on_both_workers(kubectl, net):
    """Once both pods of Service web have answered client, 30 new connections in a row all succeed
    and both pods, one per worker, serve some of them."""
    wait_answered(kubectl, net["ns"], "client", "web", ["web-a", "web-b"])
    answers = [parse_answer(line) for line in get(kubectl, net, "client", "web", count=30)]
    failed = [a for a in answers if not a]
    served = collections.Counter((a.get("pod"), a.get("node")) for a in answers if a)
    print(dict(served))
    assert not failed, "%d of 30 requests failed; served: %s" % (len(failed), dict(served))
    assert set(served) == {("web-a", net["a"]), ("web-b", net["b"])}, dict(served)


@pytest.fixture(name="policies")
def fixture_policies(kubectl, net):
    created = []

    def apply(policy):
        kubectl.apply(policy, namespace=net["ns"])
        created.append(policy)
    yield apply
    if created:
        kubectl.delete(*created, namespace=net["ns"])


def test_a_default_deny_policy_blocks_that_traffic_and_an_allow_rule_restores_it(kubectl, net, policies):
    """Both clients reach solo before any policy (waited for, as in the other tests); each policy
    change is waited for by the traffic it changes (kube-router programs policies some time after
    they are made), then asserted on three new connections in a row."""
    def reachable(client):
        return parse_answer(get(kubectl, net, client, "solo")[0]).get("pod") == "solo"

    for client in ("client", "stranger"):
        wait_answered(kubectl, net["ns"], client, "solo", ["solo"])
    answers = [parse_answer(line).get("pod") for client in ("client", "stranger")
               for line in get(kubectl, net, client, "solo", count=3)]
    assert answers == ["solo"] * 6, "solo must answer both clients before any policy: %s" % answers

    policies({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "metadata": {"name": "default-deny"},
              "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
    wait_until("default-deny blocking client -> solo",
               lambda: (not reachable("client"), "still answered"), timeout=60, interval=1)
    # Blocked for good, not a hiccup: several new connections in a row fail.
    answers = get(kubectl, net, "client", "solo", count=3)
    assert answers == ["FAIL"] * 3, answers

    policies({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "metadata": {"name": "allow-clients-to-solo"},
              "spec": {"podSelector": {"matchLabels": {"app": "solo"}}, "policyTypes": ["Ingress"],
                       "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                                    "ports": [{"protocol": "TCP", "port": 8080}]}]}})
    wait_until("allow rule restoring client -> solo",
               lambda: (reachable("client"), "still blocked"), timeout=60, interval=1)
    answers = [parse_answer(line) for line in get(kubectl, net, "client", "solo", count=3)]
    assert all(a.get("pod") == "solo" for a in answers), answers
    # The rule lets in what it names only: the other pod on the same node stays out.
    assert get(kubectl, net, "stranger", "solo", count=3) == ["FAIL"] * 3
