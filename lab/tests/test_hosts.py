"""The lab's air-gapped site behaves like the bare-metal hosts the product is for.

Runs after `make lab-hosts` (lab/hosts/labhosts.py up). Every check is made from inside a host,
over SSH from this machine, as a user would: STATE/hosts.json says where the hosts are and the
user to log in as (not root: a user with passwordless sudo, as on most real sites).
No check sends a packet outside the lab network: before trying an outside address, the host
is asked for a route to it, and a connection is tried only when there is none (the kernel then
fails it locally, at once).
"""
import errno
import ipaddress
import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import labconf  # noqa: E402

HOSTS_JSON = labconf.STATE / "hosts.json"
KNOWN_HOSTS = labconf.STATE / "ssh" / "known_hosts"
SUBNET = ipaddress.ip_network(labconf.SUBNET)
GATEWAY = str(SUBNET.network_address + 1)  # the machine's address on the lab bridge
TEST_NET = "192.0.2.1"


def _hosts():
    if not HOSTS_JSON.exists():
        pytest.fail(f"{HOSTS_JSON} is missing: run `make lab-hosts` first", pytrace=False)
    return json.loads(HOSTS_JSON.read_text())


HOSTS = json.loads(HOSTS_JSON.read_text()) if HOSTS_JSON.exists() else []
IDS = [h["name"] for h in HOSTS]


def ssh(host, command, input=None, check=True, user=None):
    """Run `command` on `host` as its SSH user (or `user`), without a terminal, as Ansible's
    pipelining does."""
    cmd = ["ssh", "-i", host["ssh_key"], "-p", str(host["ssh_port"]),
           "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
           "-o", f"UserKnownHostsFile={KNOWN_HOSTS}", "-o", "StrictHostKeyChecking=yes",
           "-o", "LogLevel=ERROR", "-o", "ControlMaster=auto", "-o", "ControlPersist=30",
           "-o", "ControlPath=/tmp/airgap-lab-test-%C",
           f"{user or host['ssh_user']}@{host['address']}", command]
    proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        pytest.fail(f"{host['name']}: `{command}` failed (rc={proc.returncode}): "
                    f"{proc.stderr.strip()}", pytrace=False)
    return proc


# Runs on a host: look up the route, then (unless told to stop when there is one) connect.
PROBE = r"""
import json, socket, subprocess, sys, time
addr, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
r = subprocess.run(["ip", "route", "get", addr], capture_output=True, text=True)
out = {"route": r.returncode == 0, "route_text": (r.stdout + r.stderr).strip()}
if not (out["route"] and mode == "only-without-route"):
    s = socket.socket()
    s.settimeout(5)
    t = time.monotonic()
    try:
        s.connect((addr, port))
        out.update(connected=True, errno=0, error="")
    except OSError as e:
        out.update(connected=False, errno=e.errno, error=str(e))
    out["seconds"] = round(time.monotonic() - t, 3)
    s.close()
print(json.dumps(out))
"""


def probe(host, addr, port, mode="always"):
    proc = ssh(host, f"python3 - {addr} {port} {mode}", input=PROBE)
    return json.loads(proc.stdout)


def machine_addresses():
    """This machine's own IPv4 addresses outside loopback and the lab subnet."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                         capture_output=True, text=True, check=True).stdout
    addrs = []
    for line in out.splitlines():
        addr = ipaddress.ip_interface(line.split()[3]).ip
        if addr not in SUBNET:
            addrs.append(str(addr))
    return addrs


@pytest.fixture(scope="module")
def hosts():
    return _hosts()


def test_inventory_lists_the_configured_hosts(hosts):
    assert len(hosts) == labconf.HOST_COUNT
    for h in hosts:
        assert set(h) >= {"name", "address", "os", "ssh_user", "ssh_port", "ssh_key"}
        assert ipaddress.ip_address(h["address"]) in SUBNET
        assert Path(h["ssh_key"]).stat().st_mode & 0o077 == 0, "the SSH key must be mode 0600"


@pytest.mark.parametrize("host", HOSTS, ids=IDS)
def test_the_ssh_user_is_not_root_and_becomes_root_with_sudo(host):
    """What Ansible's become does over a pipelined connection: `sudo -n` (no password to type)
    in a session without a terminal (no requiretty)."""
    assert host["ssh_user"] != "root"
    out = ssh(host, "id -un; test -t 0 && echo tty || echo no-tty; sudo -n id -u").stdout.split()
    assert out == [host["ssh_user"], "no-tty", "0"], f"{host['name']}: {out}"


@pytest.mark.parametrize("host", HOSTS, ids=IDS)
def test_root_may_not_log_in(host):
    """Refused, and by sshd's setting, not only for want of a key in /root/.ssh."""
    denied = ssh(host, "true", check=False, user="root")
    assert denied.returncode == 255 and "Permission denied" in denied.stderr, \
        f"{host['name']}: root logged in, or failed otherwise: {denied.stderr.strip()}"
    effective = ssh(host, "sudo -n sshd -T | grep -i '^permitrootlogin '").stdout.split()
    assert effective == ["permitrootlogin", "no"], f"{host['name']}: sshd -T says {effective}"


def test_hostnames_and_identities_are_distinct(hosts):
    seen = {}
    for h in hosts:
        out = ssh(h, "hostname; cat /etc/machine-id; cat /etc/airgap-lab/product_uuid; "
                     "cat /sys/class/dmi/id/product_uuid 2>/dev/null || true").stdout.split()
        assert out[0] == h["name"], f"{h['name']} calls itself {out[0]}"
        seen[h["name"]] = tuple(out)
    for i in range(3):
        values = [v[i] for v in seen.values()]
        assert len(set(values)) == len(values), f"not unique across hosts: {seen}"


@pytest.mark.parametrize("host", HOSTS, ids=IDS)
def test_other_hosts_answer(host, hosts):
    others = [h for h in hosts if h["name"] != host["name"]]
    assert others, "a lab of one host cannot test host-to-host traffic"
    for other in others:
        r = probe(host, other["address"], 22)
        assert r["connected"], f"{host['name']} -> {other['name']}:22: {r}"
        ping = ssh(host, f"ping -c 1 -W 2 {other['address']}", check=False)
        assert ping.returncode == 0, f"{host['name']} cannot ping {other['name']}: {ping.stdout}"
        name = ssh(host, f"getent hosts {other['name']}", check=False).stdout.split()
        assert name[:1] == [other["address"]], f"{host['name']} does not resolve {other['name']}"


@pytest.mark.parametrize("host", HOSTS, ids=IDS)
def test_no_default_route(host):
    routes = ssh(host, "ip -4 route show default; ip -6 route show default").stdout.strip()
    assert routes == "", f"{host['name']} has a default route: {routes}"


@pytest.mark.parametrize("host", HOSTS, ids=IDS)
def test_outside_is_unreachable_at_once(host):
    targets = [TEST_NET] + machine_addresses()
    for addr in targets:
        r = probe(host, addr, 80, mode="only-without-route")
        assert not r["route"], f"{host['name']} has a route to {addr}: {r['route_text']}"
        assert "Network is unreachable" in r["route_text"], r
        assert not r["connected"], f"{host['name']} connected to {addr}"
        assert r["errno"] == errno.ENETUNREACH, f"{host['name']} -> {addr}: {r}"
        assert r["seconds"] < 2, f"{host['name']} -> {addr} took {r['seconds']}s to fail"


class _Listener:
    """A TCP server on this machine, so that "not reachable" means blocked, not "nobody home"."""

    def __init__(self, addr, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((addr, port))
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                raise
            self.sock.close()
            self.sock = None  # the real server (e.g. the mirror) is listening: fine
            return
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.accepted = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.accepted += 1
                conn.close()
            except OSError:
                pass

    def close(self):
        if self.sock:
            self.stop.set()
            self.thread.join()
            self.sock.close()


@pytest.fixture(scope="module")
def machine_servers():
    """Something listens on the mirror's ports on 127.0.0.1 and on a port of the bridge address."""
    servers = [_Listener(labconf.MIRROR_HOST, p)
               for p in (labconf.MIRROR_HTTP_PORT, labconf.MIRROR_REGISTRY_PORT)]
    bridge = _Listener(GATEWAY, 0)
    # The listeners are real: this machine reaches them.
    for addr, port in [(labconf.MIRROR_HOST, labconf.MIRROR_HTTP_PORT),
                       (labconf.MIRROR_HOST, labconf.MIRROR_REGISTRY_PORT),
                       (GATEWAY, bridge.sock.getsockname()[1])]:
        socket.create_connection((addr, port), timeout=2).close()
    yield bridge.sock.getsockname()[1]
    for s in servers + [bridge]:
        s.close()


@pytest.mark.parametrize("host", HOSTS, ids=IDS)
def test_machine_servers_are_not_reachable(host, machine_servers):
    ports = [labconf.MIRROR_HTTP_PORT, labconf.MIRROR_REGISTRY_PORT, machine_servers]
    for port in ports:
        r = probe(host, GATEWAY, port)
        assert not r["connected"], f"{host['name']} reached the machine at {GATEWAY}:{port}"
        assert r["errno"] in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH), r
        for addr in machine_addresses():
            r = probe(host, addr, port, mode="only-without-route")
            assert not r["route"], f"{host['name']} has a route to {addr}: {r['route_text']}"
            assert not r["connected"] and r["errno"] == errno.ENETUNREACH, r


@pytest.mark.parametrize("host", HOSTS, ids=IDS)
def test_systemd_is_running(host):
    state = ssh(host, "systemctl is-system-running --wait", check=False).stdout.strip()
    failed = ssh(host, "systemctl --failed --no-legend --plain").stdout.strip()
    assert state in ("running", "degraded"), f"{host['name']}: systemd {state}; {failed}"
    if state == "degraded":
        print(f"{host['name']}: degraded, failed units:\n{failed}")
    assert ssh(host, "ps -p 1 -o comm=").stdout.strip() == "systemd"


@pytest.mark.parametrize("host", HOSTS, ids=IDS)
def test_python3_is_present(host):
    out = ssh(host, "python3 -c 'import sys; print(sys.version_info[0])'").stdout.strip()
    assert out == "3"


@pytest.mark.parametrize("host", HOSTS, ids=IDS)
def test_containerd_dir_is_not_on_overlay(host):
    # The deepest existing directory on the way to /var/lib/containerd.
    fs = ssh(host, "d=/var/lib/containerd; while [ ! -d $d ]; do d=$(dirname $d); done; "
                   "stat -f -c %T $d").stdout.strip()
    assert fs not in ("overlayfs", "overlay"), f"{host['name']}: /var/lib/containerd on {fs}"


@pytest.mark.parametrize("host", HOSTS, ids=IDS)
def test_kubelet_prerequisites_of_a_real_host(host):
    """What a kubelet expects from bare metal: /dev/kmsg, / shared, its cgroups where
    /proc/self/cgroup says they are."""
    out = ssh(host, "test -e /dev/kmsg && echo kmsg; findmnt -n -o PROPAGATION /").stdout.split()
    assert out == ["kmsg", "shared"], out
    if ssh(host, "stat -f -c %T /sys/fs/cgroup").stdout.strip() != "cgroup2fs":
        for ctrl in ("memory", "cpu", "pids"):
            # One shell: the path is the SSH session's own cgroup, gone when the session ends.
            out = ssh(host, f"p=$(awk -F: '$2 ~ /(^|,){ctrl}(,|$)/ {{print $3}}' "
                            f"/proc/self/cgroup); test -d /sys/fs/cgroup/{ctrl}$p && echo ok; "
                            f"echo $p").stdout.split()
            assert out[0] == "ok", f"{host['name']}: /sys/fs/cgroup/{ctrl}{out[-1]} is missing"
