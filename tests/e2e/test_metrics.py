# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""metrics-server serves the resource metrics API: `kubectl top nodes` answers for every node,
and a HorizontalPodAutoscaler made with `kubectl autoscale` reads its pods' current CPU."""

from __future__ import annotations

import re

from clusterlib import hello_pod, wait_until


def test_kubectl_top_nodes_answers_for_every_node(cluster, kubectl):
    names = {h["name"] for h in cluster["hosts"]}

    def probe():
        proc = kubectl.run("top", "nodes", "--no-headers", check=False, timeout=30)
        rows = {}
        for line in proc.stdout.splitlines():
            fields = line.split()
            # NAME CPU(cores) CPU(%) MEMORY(bytes) MEMORY(%)
            if len(fields) >= 5 and re.fullmatch(r"\d+m", fields[1]) and re.fullmatch(r"\d+Mi", fields[3]):
                rows[fields[0]] = fields[1:]
        return set(rows) == names, rows or (proc.stdout + proc.stderr).strip()

    rows = wait_until("kubectl top nodes answering for %s" % sorted(names), probe, timeout=180, interval=5)
    print(rows)


def test_an_hpa_made_with_kubectl_autoscale_reads_current_cpu(cluster, images, kubectl, namespace):
    template = hello_pod("cpu", images["hello"], cluster["workers"][0], {"app": "cpu"})
    del template["spec"]["nodeSelector"]
    kubectl.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "cpu"},
                   "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "cpu"}},
                            "template": {"metadata": {"labels": {"app": "cpu"}}, "spec": template["spec"]}}},
                  namespace=namespace)
    kubectl("rollout", "status", "deployment/cpu", "--timeout=150s", namespace=namespace, timeout=160)
    kubectl("autoscale", "deployment", "cpu", "--cpu=50%", "--min=1", "--max=2", namespace=namespace)

    def probe():
        hpa = kubectl.json("get", "hpa", "cpu", namespace=namespace)
        status = hpa.get("status", {})
        current = [m["resource"]["current"] for m in status.get("currentMetrics") or []
                   if m.get("type") == "Resource" and m["resource"]["name"] == "cpu"]
        conditions = {c["type"]: (c["status"], c.get("reason"), c.get("message")) for c in status.get("conditions") or []}
        ok = bool(current) and current[0].get("averageUtilization") is not None and \
            conditions.get("ScalingActive", ("",))[0] == "True"
        return ok, {"current": current, "conditions": conditions}

    seen = wait_until("the HPA reading its pods' CPU", probe, timeout=240, interval=5)
    print(seen)
    print(kubectl("get", "hpa", "cpu", namespace=namespace))
