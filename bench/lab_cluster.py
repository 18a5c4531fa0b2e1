#!/usr/bin/env python3
"""Benchmark a cluster bring-up on the lab: from the bundle to every node Ready, a re-run, a repair.

  bench/lab_cluster.py                 fresh hosts (labhosts down + make lab-hosts), then
                                       fresh:  site.yml (wall, phases, registration to all Ready)
                                       noop:   site.yml again (wall, phases, what changed: nothing)
                                       drift:  rm the kubelet binary on the first worker, site.yml,
                                               and check by the report that only its reinstall and
                                               the kubelet restart changed ("drift repair: OK")
  bench/lab_cluster.py --workers 8     the same on 1 control plane + 8 workers (AIRGAP_LAB_HOSTS=9)
  bench/lab_cluster.py --compare 2,8   fresh hosts and the fresh install for each size, then the
                                       ratio of the fresh-install wall times (issue 13: <= 1.3)
  bench/lab_cluster.py --reuse         the runs on the hosts as they are (no fresh hosts)
  bench/lab_cluster.py --only noop,drift   some steps only (no fresh hosts without `fresh`)

Needs the lab mirror and its bundle (make lab-bundle), and root (podman). Every run of site.yml
uses the JSON stdout callback (per-task results: changed tasks, bytes_sent) beside the
airgap.kubernetes.phases callback, whose table follows the JSON report on stdout. Each report is
kept in $TMPDIR for a look afterwards. For each run the script prints one "name: value unit" line
per figure:
  wall time, each phase, changed tasks (listed for noop and drift), registration to all Ready,
  the peak memory of ansible-playbook on the controller (its process tree polled every 0.2 s in
  /proc: the sum of RSS, which counts pages forked workers share once per process, and the largest
  single RSS; plus ru_maxrss of the run from wait4, the kernel's figure for the largest process),
  MiB received by each host (rx_bytes of the interface holding its lab address) and, from the
  report, MiB sent by tasks that return bytes_sent (airgap.kubernetes.install_files).
The first line describes the machine, the commit and ansible-core.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("AIRGAP_LAB_CACHE", "/var/cache/airgap-lab"))
STATE = CACHE / "state"  # the Makefile's LAB_STATE
PY = REPO / ".venv" / "bin" / "python"
MIB = 1024 * 1024
STEPS = ("fresh", "noop", "drift")
# Where the kubelet role installs the kubelet (its kubelet_bin_dir default).
KUBELET = "/usr/local/bin/kubelet"


def say(name, value, unit=""):
    print(("%s: %s %s" % (name, value, unit)).rstrip(), flush=True)


# --- the machine and the lab ------------------------------------------------------------------------

def env():
    collections = subprocess.run([str(PY), str(REPO / "tests" / "collection.py")], check=True,
                                 capture_output=True, text=True).stdout.strip()
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_NOCOLOR="1",
                ANSIBLE_CALLBACKS_ENABLED="airgap.kubernetes.phases",
                ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
                PATH=str(REPO / ".venv" / "bin") + os.pathsep + os.environ["PATH"])


def header(environment):
    mem_kib = int(re.search(r"^MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text(), re.M).group(1))
    commit = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty", "--abbrev=12"],
                            capture_output=True, text=True).stdout.strip()
    version = subprocess.run(["ansible-playbook", "--version"], env=environment, capture_output=True,
                             text=True).stdout
    core = re.search(r"core ([^\]\s]+)", version)
    return "machine: nproc=%d mem=%.1fGiB kernel=%s date=%s commit=%s ansible-core=%s" % (
        len(os.sched_getaffinity(0)), mem_kib / MIB, os.uname().release,
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), commit or "?", core.group(1) if core else "?")


def fresh_hosts(workers):
    """Remove the lab's hosts and make 1 + workers new ones (host 1 is the control plane and the
    registry, the others workers: the generator gives roles by position)."""
    lab_env = dict(os.environ)
    if workers is not None:
        lab_env["AIRGAP_LAB_HOSTS"] = str(workers + 1)
    for command in ([str(PY), "lab/hosts/labhosts.py", "down"], ["make", "lab-hosts"]):
        run = subprocess.run(command, cwd=REPO, env=lab_env, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit("%s failed (rc %d):\n%s" % (" ".join(command), run.returncode, (run.stdout + run.stderr)[-3000:]))
    hosts = lab_hosts()
    if workers is not None and len(hosts) != workers + 1:
        sys.exit("make lab-hosts made %d hosts, not 1 + %d" % (len(hosts), workers))
    return hosts


def lab_hosts():
    """The lab's hosts, in order ({name, address, ...}: labhosts.py's STATE/hosts.json)."""
    return json.loads((STATE / "hosts.json").read_text())


RX = 'dev=$(ip -o -4 addr show to "$1" | cut -d" " -f2); dev=${dev%%@*}; ' \
     'echo "$dev" "$(cat /sys/class/net/$dev/statistics/rx_bytes)"'


def rx_bytes(hosts):
    """{host: (interface, bytes received)}, on the interface that holds the host's lab address."""
    counters = {}
    for host in hosts:
        out = subprocess.run(["podman", "exec", host["name"], "sh", "-c", RX, "sh", host["address"]],
                             capture_output=True, text=True).stdout.split()
        counters[host["name"]] = (out[0], int(out[1])) if len(out) == 2 and out[1].isdigit() else None
    return counters


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


# --- one run of ansible-playbook, its memory and its report -----------------------------------------

def processes():
    """{pid: (parent pid, session id, rss bytes)} of every process now."""
    table, page = {}, os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as stat:
                fields = stat.read().rsplit(")", 1)[1].split()  # after "pid (comm)"
            with open("/proc/%s/statm" % entry) as statm:
                resident = int(statm.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        table[int(entry)] = (int(fields[1]), int(fields[3]), resident)
    return table


def process_tree(root, table):
    """{pid: rss bytes} of root, its descendants, and the other processes of its session (ssh
    control masters detach from their parent but stay in the session)."""
    tree = {root} | {pid for pid, (_, sid, _) in table.items() if sid == root}
    while True:
        children = {pid for pid, (ppid, _, _) in table.items() if ppid in tree} - tree
        if not children:
            break
        tree |= children
    return {pid: table[pid][2] for pid in tree if pid in table}


class MemoryPoll(threading.Thread):
    """Poll the process tree of pid every `interval` s; keep the peak sum and the peak single RSS.
    pid leads its own session (start_new_session), so its session id is pid."""

    def __init__(self, pid, interval=0.2):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_sum = self.peak_one = 0
        self.samples = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            sizes = process_tree(self.pid, processes()).values()
            if sizes:
                self.samples += 1
                self.peak_sum = max(self.peak_sum, sum(sizes))
                self.peak_one = max(self.peak_one, max(sizes))
            self.done.wait(self.interval)


def playbook(command, environment, label):
    """Run ansible-playbook in its own session, its stdout to a kept file; return a dict: rc,
    seconds, stdout, report path, peak memory (bytes) and ru_maxrss (bytes).

    ru_maxrss comes from wait4 on this child: the same accounting as
    getrusage(RUSAGE_CHILDREN), for this run alone (RUSAGE_CHILDREN keeps the maximum over every
    child of this script so far, make lab-hosts and podman included)."""
    report = Path(tempfile.gettempdir()) / ("airgap-bench-%s-%d.out" % (label, time.time()))
    with open(report, "w") as out, tempfile.TemporaryFile("w+") as err:
        started = time.monotonic()
        proc = subprocess.Popen(command, cwd=REPO, env=environment, stdout=out, stderr=err,
                                start_new_session=True)
        poll = MemoryPoll(proc.pid)
        poll.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except KeyboardInterrupt:
            os.killpg(proc.pid, signal.SIGINT)
            os.wait4(proc.pid, 0)
            raise
        finally:
            poll.done.set()
            poll.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        err.seek(0)
        stderr = err.read()
    return {"rc": proc.returncode, "seconds": seconds, "stdout": report.read_text(), "stderr": stderr,
            "report": report, "peak_sum": poll.peak_sum, "peak_one": poll.peak_one,
            "samples": poll.samples, "ru_maxrss": usage.ru_maxrss * 1024}


def parse_output(stdout):
    """The JSON callback's report and the phases callback's table from one run's stdout.

    The phases callback prints a line at the end of each phase while the run goes on, then the
    JSON callback prints the report, then the phases callback its table (after a PHASES banner).
    Returns (report or None, [(phase, seconds as text)])."""
    start = re.search(r"^\{$", stdout, re.M)
    report, rest = None, stdout
    if start:
        try:
            report, end = json.JSONDecoder().raw_decode(stdout, start.start())
            rest = stdout[end:]
        except ValueError:
            pass
    table = rest.split("\nPHASES *")[-1] if "\nPHASES *" in rest else ""
    phases = re.findall(r"^(\S.*?)\s+([0-9.]+) s(?:  failed: .*)?$", table, re.M)
    return report, phases


def results(report):
    """(play, task, host, result) of every task result of a JSON report, in order (handlers too)."""
    for play in (report or {}).get("plays", []):
        for task in play.get("tasks", []):
            for host, result in task.get("hosts", {}).items():
                yield play["play"], task["task"], host, result


def changed_tasks(report):
    return [(host, task["name"], result) for _, task, host, result in results(report) if result.get("changed")]


def failures(report):
    return ["%s on %s: %s" % (task["name"], host, str(result.get("msg", ""))[:400])
            for _, task, host, result in results(report)
            if (result.get("failed") and not result.get("ignore_errors")) or result.get("unreachable")]


def bytes_sent(report):
    """{host: bytes} summed over the results that return bytes_sent (or whose loop items do)."""
    sent = {}
    for _, _, host, result in results(report):
        items = [result] if "bytes_sent" in result else [
            item for item in result.get("results", []) if isinstance(item, dict) and "bytes_sent" in item]
        for item in items:
            sent[host] = sent.get(host, 0) + int(item["bytes_sent"] or 0)
    return sent


def changed_paths(result):
    """The files a changed result says it changed: install_files' installed and fixed files, or
    dest (or path) of its changed loop items, or of
    its changed entries under any list (a module installing several files), or its own."""
    if isinstance(result.get("installed"), list):  # airgap.kubernetes.install_files
        return set(result["installed"]) | set(result.get("fixed") or [])
    nested = [item for value in result.values() if isinstance(value, list)
              for item in value if isinstance(item, dict) and ("dest" in item or "path" in item)]
    if nested:
        return {item.get("dest", item.get("path")) for item in nested if item.get("changed")}
    path = result.get("dest", result.get("path"))
    return {path} if path else set()


def is_kubelet_restart(task, result):
    """A systemd result that (re)started the kubelet, or a task named so (the role's handler)."""
    systemd = str(result.get("action", "")).endswith(("systemd_service", "systemd", "service"))
    return (systemd and result.get("name") == "kubelet" and result.get("state") in ("started", "restarted")) \
        or bool(re.search(r"restart\w* kubelet", task, re.I))


def check_drift(report, host, kubelet=KUBELET):
    """Problems with a drift-repair run (an empty list when it is right): it must reinstall the
    kubelet binary on `host` and restart the kubelet there, and change nothing else."""
    problems, reinstalled, restarted = [], False, False
    for changed_host, task, result in changed_tasks(report):
        paths = changed_paths(result)
        if changed_host == host and paths == {kubelet}:
            reinstalled = True
        elif changed_host == host and is_kubelet_restart(task, result):
            restarted = True
        else:
            problems.append("%s: %s%s" % (changed_host, task, " (%s)" % ", ".join(sorted(paths)) if paths else ""))
    if not reinstalled:
        problems.append("%s: no task reinstalled %s" % (host, kubelet))
    if not restarted:
        problems.append("%s: the kubelet was not restarted" % host)
    return problems


# --- the steps ---------------------------------------------------------------------------------------

def site(environment, hosts, label):
    """Run site.yml; print its figures (prefixed with label); return its report and wall time."""
    before = rx_bytes(hosts)
    run = playbook(["ansible-playbook", "-i", str(STATE / "lab.cluster.yml"), str(REPO / "site.yml")],
                   environment, label)
    after = rx_bytes(hosts)
    report, phases = parse_output(run["stdout"])
    if run["rc"] != 0:
        sys.stdout.write(run["stderr"][-3000:])
        for line in failures(report) or [run["stdout"][-3000:]]:
            print("  " + line)
        sys.exit("site.yml (%s) failed (rc %d) after %.0f s; its output: %s"
                 % (label, run["rc"], run["seconds"], run["report"]))
    say(label + ".wall", "%.1f" % run["seconds"], "s")
    for name, value in phases:
        say("%s.phase.%s" % (label, name.replace(" ", "_")), value, "s")
    changes = changed_tasks(report)
    say(label + ".changed", len(changes), "tasks")
    say(label + ".mem.tree_rss_sum_peak", "%.1f" % (run["peak_sum"] / MIB), "MiB")
    say(label + ".mem.max_process_rss", "%.1f" % (run["peak_one"] / MIB), "MiB")
    say(label + ".mem.ru_maxrss", "%.1f" % (run["ru_maxrss"] / MIB), "MiB")
    for host in hosts:
        name = host["name"]
        if before.get(name) and after.get(name) and before[name][0] == after[name][0]:
            say("%s.rx.%s" % (label, name), "%.1f" % ((after[name][1] - before[name][1]) / MIB),
                "MiB (%s)" % after[name][0])
        else:
            say("%s.rx.%s" % (label, name), "?", "(no rx_bytes: %s -> %s)" % (before.get(name), after.get(name)))
    sent = bytes_sent(report)
    for name in sorted(sent):
        say("%s.bytes_sent.%s" % (label, name), "%.1f" % (sent[name] / MIB), "MiB")
    if not sent:
        say(label + ".bytes_sent", "none", "(no task returned bytes_sent)")
    say(label + ".report", run["report"])
    return report, run["seconds"]


def fresh(environment, hosts, label):
    report, seconds = site(environment, hosts, label)
    try:
        spread, count = ready_seconds(environment)
        say(label + ".registered_to_all_ready", "%.0f" % spread, "s (%d nodes)" % count)
    except (OSError, subprocess.CalledProcessError, ValueError) as error:  # no kubectl yet (make lab)
        say(label + ".registered_to_all_ready", "?", "(%s)" % error)
    return seconds


def noop(environment, hosts, label="noop"):
    report, _ = site(environment, hosts, label)
    for host, task, _ in changed_tasks(report):
        say(label + ".changed_task", "%s: %s" % (host, task))


def drift(environment, hosts, host, label="drift"):
    subprocess.run(["podman", "exec", host, "rm", KUBELET], check=True)
    report, _ = site(environment, hosts, label)
    for changed_host, task, result in changed_tasks(report):
        paths = sorted(changed_paths(result))
        say(label + ".changed_task", "%s: %s%s" % (changed_host, task, " (%s)" % ", ".join(paths) if paths else ""))
    problems = check_drift(report, host)
    print("drift repair: OK" if not problems else "drift repair: UNEXPECTED changes: " + "; ".join(problems),
          flush=True)
    return not problems


def compare(environment, sizes):
    walls = {}
    for workers in sizes:
        hosts = fresh_hosts(workers)
        label = "fresh.w%d" % workers
        say(label + ".hosts", "1 control plane + %d workers" % (len(hosts) - 1))
        walls[workers] = fresh(environment, hosts, label)
    first, last = sizes[0], sizes[-1]
    ratio = walls[last] / walls[first]
    say("compare.fresh_wall_ratio.w%d_over_w%d" % (last, first), "%.2f" % ratio,
        "x (goal <= 1.3: %s)" % ("met" if ratio <= 1.3 else "missed"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--reuse", action="store_true", help="keep the hosts as they are")
    parser.add_argument("--workers", type=int, help="fresh hosts: 1 control plane + N workers "
                        "(default: AIRGAP_LAB_HOSTS - 1, i.e. 2)")
    parser.add_argument("--compare", metavar="N,M", help="fresh install on 1+N and on 1+M workers, "
                        "and the ratio of their wall times")
    parser.add_argument("--only", metavar="STEPS", default=",".join(STEPS),
                        help="comma list of steps among %s (default: all)" % ",".join(STEPS))
    parser.add_argument("--drift-host", help="the host whose kubelet is removed (default: host 2, "
                        "the first worker)")
    args = parser.parse_args()
    steps = [s.strip() for s in args.only.split(",") if s.strip()]
    if set(steps) - set(STEPS):
        parser.error("--only: unknown steps %s" % ", ".join(sorted(set(steps) - set(STEPS))))
    if args.reuse and (args.workers is not None or args.compare):
        parser.error("--workers and --compare make fresh hosts; --reuse keeps them")
    sizes = [int(n) for n in args.compare.split(",")] if args.compare else []
    if args.compare and (len(sizes) < 2 or min(sizes) < 1):
        parser.error("--compare takes two or more worker counts, such as 2,8")

    environment = env()
    print(header(environment), flush=True)
    if sizes:
        return compare(environment, sizes)
    fresh_lab = "fresh" in steps and not args.reuse
    hosts = fresh_hosts(args.workers) if fresh_lab else lab_hosts()
    say("hosts", "1 control plane + %d workers" % (len(hosts) - 1),
        "(%s)" % ", ".join(h["name"] for h in hosts))
    if "fresh" in steps:
        fresh(environment, hosts, "fresh" if fresh_lab else "first")
    if "noop" in steps:
        noop(environment, hosts)
    if "drift" in steps:
        if len(hosts) < 2 and not args.drift_host:
            sys.exit("drift: no worker (give --drift-host)")
        if not drift(environment, hosts, args.drift_host or hosts[1]["name"]):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
