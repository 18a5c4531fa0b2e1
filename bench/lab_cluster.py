#!/usr/bin/env python3
"""Benchmark a cluster bring-up on the lab: from the bundle to every node Ready.

  bench/lab_cluster.py            fresh hosts (labhosts down + up), then site.yml, then site.yml
                                  again (nothing should change)
  bench/lab_cluster.py --reuse    site.yml on the hosts as they are

Needs the lab mirror and its bundle (make lab-bundle). Prints one line per figure: the run's
wall time, each phase as the airgap.kubernetes.phases callback reports it, the time until every node reported
Ready, and the second run's wall time and changed count.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("AIRGAP_LAB_CACHE", "/var/cache/airgap-lab"))
STATE = CACHE / "state"
PY = REPO / ".venv" / "bin" / "python"


def env():
    collections = subprocess.run([str(PY), str(REPO / "tests" / "collection.py")], check=True,
                                 capture_output=True, text=True).stdout.strip()
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_NOCOLOR="1",
                ANSIBLE_CALLBACKS_ENABLED="airgap.kubernetes.phases",
                PATH=str(REPO / ".venv" / "bin") + os.pathsep + os.environ["PATH"])


def site(environment):
    started = time.monotonic()
    run = subprocess.run(["ansible-playbook", "-i", str(STATE / "lab.cluster.yml"), str(REPO / "site.yml")],
                         cwd=REPO, env=environment, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if run.returncode != 0:
        sys.stdout.write(run.stdout[-4000:])
        sys.exit("site.yml failed (rc %d)" % run.returncode)
    # The airgap.kubernetes.phases callback's table, after the PLAY RECAP.
    table = run.stdout.split("\nPHASES *")[-1] if "\nPHASES *" in run.stdout else ""
    phases = re.findall(r"^(\S.*?)\s+([0-9.]+) s(?:  failed: .*)?$", table, re.M)
    changed = sum(int(n) for n in re.findall(r"changed=(\d+)", run.stdout.split("PLAY RECAP")[-1]))
    return seconds, phases, changed


def ready_seconds(environment):
    """Seconds from the first node's creation to the last node's Ready transition."""
    kubectl = STATE / "bin" / "kubectl"
    kubeconfig = subprocess.run([str(PY), str(REPO / "tests" / "cluster_names.py"), str(STATE / "lab.cluster.yml"),
                                 "kubeconfig"], check=True, capture_output=True, text=True).stdout.strip()
    out = subprocess.run([str(kubectl), "--kubeconfig", kubeconfig,
                          "get", "nodes", "-o", "json"], env=environment, check=True,
                         capture_output=True, text=True).stdout
    nodes = json.loads(out)["items"]

    def stamp(text):
        return time.mktime(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))
    created = min(stamp(n["metadata"]["creationTimestamp"]) for n in nodes)
    ready = max(stamp(c["lastTransitionTime"]) for n in nodes for c in n["status"]["conditions"]
                if c["type"] == "Ready" and c["status"] == "True")
    return ready - created, len(nodes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", action="store_true", help="keep the hosts as they are")
    args = parser.parse_args()
    environment = env()
    if not args.reuse:
        subprocess.run([str(PY), "lab/hosts/labhosts.py", "down"], cwd=REPO, check=True, capture_output=True)
        subprocess.run(["make", "lab-hosts"], cwd=REPO, check=True, capture_output=True)
    seconds, phases, changed = site(environment)
    print("site.yml (first run) wall: %.1f s, changed tasks: %d" % (seconds, changed))
    for name, value in phases:
        print("  phase %-14s %s s" % (name, value))
    spread, count = ready_seconds(environment)
    print("first node registered to all %d nodes Ready: %.0f s" % (count, spread))
    seconds, phases, changed = site(environment)
    print("site.yml (second run) wall: %.1f s, changed tasks: %d" % (seconds, changed))


if __name__ == "__main__":
    main()
