#!/usr/bin/env python3
"""The lab's air-gapped site: N systemd "bare-metal" hosts in rootful podman containers.

    labhosts.py up            create or converge the hosts (idempotent; a warm run takes seconds)
    labhosts.py status        show what is up
    labhosts.py down [--all]  remove containers, volumes, network, firewall rules
                              (--all: the images too; they take minutes to rebuild, so a
                              plain `down` keeps them)

What a host is
- Debian 12 (bookworm) from debootstrap (lab/debian.py) plus the lab machinery in
  lab/hosts/image (one oneshot unit that makes the container look like bare metal).
  AIRGAP_LAB_OS=trixie gives Debian 13; a comma list ("bookworm,trixie") is taken per host,
  in order, repeating the list.
- Hostname <HOST_PREFIX>-<i>, static address SUBNET .10+i on the podman --internal network
  NETWORK. The hosts have no default route, no NAT, no DNS server: they reach each other and
  nothing else. The machine (the controller) has the subnet's first address on the bridge so
  that it reaches them over SSH exactly as on bare metal; a firewall rule on the machine
  rejects every connection the hosts open towards it or through it.
- The lab's user LAB_USER (`debian`, as on most real sites) logs in with the lab's key
  (STATE/ssh/id_ed25519, 0600) only and becomes root with sudo, without a password; root may
  not log in over SSH; no passwords anywhere. So every playbook proves it works with become.

What `up` writes (the contract with the cluster.yml generator and with tests)
- STATE/hosts.json: a JSON list, one object per host, in host order:
    {"name": "lab-1", "address": "10.213.7.11", "os": "bookworm", "ssh_user": "debian",
     "ssh_port": 22, "ssh_key": "/var/cache/airgap-lab/state/ssh/id_ed25519"}
- STATE/hosts.ini: the same as an Ansible inventory (group `lab`), using
  STATE/ssh/known_hosts (refreshed by every `up`) with strict host key checking.
- STATE/ssh/config: an ssh_config for a person: `ssh -F STATE/ssh/config lab-1`.
"""
import argparse
import hashlib
import io
import ipaddress
import json
import os
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import debian  # noqa: E402
import labconf  # noqa: E402

# What a minimal Debian server has. Not the Kubernetes node dependencies (conntrack, socat,
# ethtool, ebtables ...): the product brings those from its bundle.
HOST_PACKAGES = [
    "systemd", "systemd-sysv", "dbus", "libpam-systemd", "openssh-server",
    "openssh-sftp-server", "python3", "iproute2", "iptables", "iputils-ping", "ca-certificates",
    "procps", "kmod", "sudo", "less", "netbase", "xz-utils",
]
IMAGE_DIR = HERE / "image"
LABEL_KEY, _, LABEL_VALUE = labconf.LABEL.partition("=")
CONFIG_LABEL = LABEL_KEY + ".config"  # hash of a container's settings
ROLE_LABEL = LABEL_KEY + ".role"      # rootfs | host-image | host | var
IMAGE_REPO = "localhost/airgap-lab-host"
ROOTFS_REPO = "localhost/airgap-lab-rootfs"
FW_COMMENT = "airgap.kubernetes.lab"
SSH_DIR = labconf.STATE / "ssh"
KEY = SSH_DIR / "id_ed25519"
# The hosts' SSH user, made in the image (image/Containerfile) with passwordless sudo.
LAB_USER = "debian"
LAB_UID = 1000
# Everything podman build takes besides BASE and image/; part of the image's tag.
BUILD_ARGS = {"LAB_USER": LAB_USER, "LAB_UID": str(LAB_UID)}

# Measured on this kind of machine (Firecracker VM, cgroup v1): crun, and rlimits above these,
# fail with setrlimit EPERM. /var is a volume (not overlay): containerd's overlay snapshotter
# cannot put an overlay upperdir on overlayfs.
RUN_FLAGS = [
    "--privileged", "--runtime", "runc",
    "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "--cgroupns", "host", "--systemd", "always",
    "--tmpfs", "/tmp:rw,exec,nosuid,nodev,mode=1777",
    "--tmpfs", "/run:rw,exec,nosuid,nodev,mode=755",
    "--dns", "none",
    "-e", "container=podman",
]
BUILD_FLAGS = ["--runtime", "runc", "--ulimit", "nofile=4096:4096",
               "--ulimit", "nproc=4096:4096", "--network", "none"]


def say(msg):
    print(f"[labhosts] {msg}", flush=True)


def run(*args, check=True, capture=True, input=None):
    """Run a command; `input` is text, or bytes (a tar stream) given as they are."""
    binary = isinstance(input, bytes)
    proc = subprocess.run(list(args), input=input, text=not binary,
                          stdout=subprocess.PIPE if capture else None,
                          stderr=subprocess.PIPE if capture else None)
    if binary and capture:
        proc.stdout, proc.stderr = (o.decode(errors="replace") for o in (proc.stdout, proc.stderr))
    if check and proc.returncode != 0:
        err = (proc.stderr or "").strip()
        raise SystemExit(f"labhosts: `{' '.join(args)}` failed (rc={proc.returncode}): {err}")
    return proc


def podman(*args, **kw):
    return run("podman", *args, **kw)


def podman_json(*args):
    out = podman(*args).stdout.strip()
    return json.loads(out) if out else []


# ---------------------------------------------------------------------------------------------
# desired state

def host_oses(count):
    oses = [o.strip() for o in os.environ.get("AIRGAP_LAB_OS", "bookworm").split(",") if o.strip()]
    return [oses[i % len(oses)] for i in range(count)]


def network():
    net = ipaddress.ip_network(labconf.SUBNET)
    return net, net.network_address + 1  # the machine's address on the bridge


def desired_hosts():
    net, _ = network()
    hosts = []
    for i, suite in enumerate(host_oses(labconf.HOST_COUNT), start=1):
        addr = net.network_address + 10 + i
        if addr not in net or addr == net.broadcast_address:
            raise SystemExit(f"labhosts: {labconf.HOST_COUNT} hosts do not fit in {net}")
        hosts.append({"name": f"{labconf.HOST_PREFIX}-{i}", "address": str(addr), "os": suite})
    return hosts


def tree_hash(path):
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(path)).encode() + b"\0")
            h.update(oct(p.stat().st_mode & 0o777).encode() + b"\0")
            h.update(p.read_bytes() + b"\0")
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# images

def image_exists(ref):
    return podman("image", "exists", ref, check=False).returncode == 0


def host_image(suite):
    """Image for hosts of `suite`; built only when its inputs (rootfs spec, image/, build
    arguments) changed."""
    rootfs_key, _ = debian.rootfs_key(suite, HOST_PACKAGES)
    inputs = f"{rootfs_key} {tree_hash(IMAGE_DIR)} {json.dumps(BUILD_ARGS, sort_keys=True)}"
    tag = hashlib.sha256(inputs.encode()).hexdigest()[:16]
    ref = f"{IMAGE_REPO}:{suite}-{tag}"
    if image_exists(ref):
        say(f"image {ref}: present")
        return ref
    started = time.monotonic()
    tar = debian.rootfs_tar(suite, HOST_PACKAGES, name="labhost",
                            log=lambda m: say(m))
    base = f"{ROOTFS_REPO}:{suite}-{rootfs_key}"
    if not image_exists(base):
        say(f"image {base}: importing {tar.name}")
        podman("import", "--quiet",
               "--change", f"LABEL {labconf.LABEL}",
               "--change", f"LABEL {ROLE_LABEL}=rootfs",
               "--change", "CMD [\"/sbin/init\"]",
               str(tar), base)
    say(f"image {ref}: building from {base} and lab/hosts/image")
    podman("build", *BUILD_FLAGS, "--quiet",
           "--label", labconf.LABEL, "--label", f"{ROLE_LABEL}=host-image",
           "--build-arg", f"BASE={base}",
           *[a for k, v in sorted(BUILD_ARGS.items()) for a in ("--build-arg", f"{k}={v}")],
           "-t", ref, "-f", str(IMAGE_DIR / "Containerfile"),
           str(IMAGE_DIR))
    say(f"image {ref}: built in {time.monotonic() - started:.0f}s")
    return ref


def prune_images(keep):
    """Remove host images that an input change made obsolete (same suite, other hash)."""
    keep_suites = {r.rsplit(":", 1)[1].split("-")[0] for r in keep}
    for img in podman_json("images", "--format", "json", "--filter", f"label={labconf.LABEL}"):
        # podman 4.3 ORs two label filters: check the role here.
        if (img.get("Labels") or {}).get(ROLE_LABEL) != "host-image":
            continue
        for name in img.get("Names") or []:
            suite = name.rsplit(":", 1)[1].split("-")[0]
            if name not in keep and suite in keep_suites:
                say(f"image {name}: obsolete, removing")
                podman("rmi", name, check=False)


# ---------------------------------------------------------------------------------------------
# network and the machine's side of it

def ensure_network():
    net, _ = network()
    nets = {n["name"]: n for n in podman_json("network", "ls", "--format", "json")}
    cur = nets.get(labconf.NETWORK)
    if cur:
        subnets = [s.get("subnet") for s in cur.get("subnets") or []]
        ok = (cur.get("internal") and subnets == [str(net)]
              and (cur.get("labels") or {}).get(LABEL_KEY) == LABEL_VALUE)
        if ok:
            say(f"network {labconf.NETWORK} ({net}, internal): present")
            return cur
        say(f"network {labconf.NETWORK}: settings differ, recreating")
        remove_containers(podman_json("ps", "-a", "--format", "json",
                                      "--filter", f"network={labconf.NETWORK}"))
        podman("network", "rm", "-f", labconf.NETWORK)
    say(f"network {labconf.NETWORK}: creating {net}, --internal")
    podman("network", "create", "--internal", "--subnet", str(net),
           "--label", labconf.LABEL, labconf.NETWORK)
    return podman_json("network", "inspect", labconf.NETWORK)[0]


def bridge_name():
    nets = podman_json("network", "inspect", labconf.NETWORK)
    return nets[0].get("network_interface") if nets else None


FW_TOOLS = {"iptables": ("icmp-port-unreachable", "icmp-net-unreachable"),
            # the bridge has an IPv6 link-local address: close that door too
            "ip6tables": ("icmp6-port-unreachable", "icmp6-no-route")}


def fw_rules(bridge, tool):
    """The machine's firewall for the site: hosts may answer, never open a connection to or
    through the machine. Traffic between hosts (bridge to bridge) is not touched."""
    c = ["-m", "comment", "--comment", FW_COMMENT]
    port, net = FW_TOOLS[tool]
    return [
        ("INPUT", ["-i", bridge, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", *c,
                   "-j", "ACCEPT"]),
        ("INPUT", ["-i", bridge, *c, "-j", "REJECT", "--reject-with", port]),
        ("FORWARD", ["-i", bridge, "!", "-o", bridge, *c, "-j", "REJECT",
                     "--reject-with", net]),
    ]


def ensure_machine_side():
    """Give the machine the subnet's first address on the bridge, and the firewall rules."""
    net, gw = network()
    bridge = bridge_name()
    if not bridge or run("ip", "link", "show", bridge, check=False).returncode != 0:
        raise SystemExit(f"labhosts: bridge of network {labconf.NETWORK} not found")
    addrs = run("ip", "-4", "-o", "addr", "show", "dev", bridge).stdout
    want = f"{gw}/{net.prefixlen}"
    if want not in addrs:
        say(f"machine: {want} on {bridge} (the controller's address on the site)")
        run("ip", "addr", "add", want, "dev", bridge)
    for tool in FW_TOOLS:
        for pos, (chain, rule) in enumerate(fw_rules(bridge, tool)):
            if run(tool, "-C", chain, *rule, check=False).returncode != 0:
                say(f"machine: {tool} {chain} {' '.join(rule)}")
                # INPUT rules keep their order at the top; FORWARD goes before podman's.
                index = str(pos + 1) if chain == "INPUT" else "1"
                run(tool, "-I", chain, index, *rule)


def remove_machine_side():
    for tool in FW_TOOLS:
        _remove_rules(tool)


def _remove_rules(tool):
    for chain in ("INPUT", "FORWARD"):
        lines = run(tool, "-S", chain).stdout.splitlines()
        for line in lines:
            if f'--comment {FW_COMMENT}' in line or f'--comment "{FW_COMMENT}"' in line:
                spec = line.split()[2:]  # drop "-A CHAIN"
                spec = [s.strip('"') for s in spec]
                say(f"machine: removing {tool} rule {chain} {' '.join(spec)}")
                run(tool, "-D", chain, *spec, check=False)


# ---------------------------------------------------------------------------------------------
# keys

def ensure_key():
    SSH_DIR.mkdir(parents=True, exist_ok=True)
    os.chmod(labconf.STATE, 0o700)
    os.chmod(SSH_DIR, 0o700)
    if not KEY.exists():
        say(f"ssh: generating the lab's key pair {KEY}")
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "airgap-lab", "-f", str(KEY))
    os.chmod(KEY, 0o600)
    return (KEY.with_suffix(".pub")).read_text().strip()


def ssh_base():
    return ["ssh", "-i", str(KEY), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={SSH_DIR / 'known_hosts'}",
            "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR"]


# ---------------------------------------------------------------------------------------------
# containers

def lab_containers():
    return podman_json("ps", "-a", "--format", "json", "--filter", f"label={labconf.LABEL}")


def remove_containers(ctrs):
    for c in ctrs:
        name = c["Names"][0]
        say(f"host {name}: removing container ({c.get('State')})")
        podman("rm", "-f", "-t", "5", name, check=False)
        vol = f"{name}-var"
        if podman("volume", "exists", vol, check=False).returncode == 0:
            podman("volume", "rm", "-f", vol, check=False)


def mac(h):
    """A fixed MAC per address, as a server's NIC keeps its MAC when it is re-imaged: the
    other hosts' ARP caches stay right (with random MACs, a re-imaged host was unreachable
    from its peers for a few seconds)."""
    return "02:00:" + ":".join(f"{b:02x}" for b in ipaddress.ip_address(h["address"]).packed)


HOSTS_BEGIN = "# BEGIN the site's hosts (airgap.kubernetes lab)"
HOSTS_END = "# END the site's hosts"


def hosts_block(all_hosts):
    return "\n".join([HOSTS_BEGIN, *[f"{o['address']}\t{o['name']}" for o in all_hosts],
                      HOSTS_END]) + "\n"


def etc_hosts(all_hosts):
    return ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n\n" + hosts_block(all_hosts))


# Runs on a kept host when the lab's host list changed: rewrite only the site's block, as a
# site's DNS would change, without re-imaging the host or touching other lines.
UPDATE_HOSTS = r"""
import os, sys
begin, end, block = sys.argv[1], sys.argv[2], sys.stdin.read()
text = open("/etc/hosts").read()
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    new = head + block + rest.split(end, 1)[1].lstrip("\n")
else:
    new = text.rstrip("\n") + "\n\n" + block
if new != text:
    with open("/etc/hosts.lab-tmp", "w") as f:
        f.write(new)
    os.chmod("/etc/hosts.lab-tmp", 0o644)
    os.replace("/etc/hosts.lab-tmp", "/etc/hosts")
    print("changed")
"""


def update_hosts_block(h, all_hosts):
    out = podman("exec", "-i", h["name"], "python3", "-c", UPDATE_HOSTS, HOSTS_BEGIN,
                 HOSTS_END, input=hosts_block(all_hosts)).stdout
    if "changed" in out:
        say(f"host {h['name']}: /etc/hosts updated (the site's host list changed)")


def host_config(h, image_id, pubkey, all_hosts):
    # --no-hosts: /etc/hosts is the site's file (etc_hosts()), copied in before the first boot,
    # not podman's (which adds the machine's own names and host.containers.internal).
    args = [*RUN_FLAGS, "--name", h["name"], "--hostname", h["name"], "--no-hosts",
            "--network", labconf.NETWORK, "--ip", h["address"], "--mac-address", mac(h),
            "--volume", f"{h['name']}-var:/var"]
    if Path("/lib/modules").is_dir():
        args += ["--volume", "/lib/modules:/lib/modules:ro"]
    digest = hashlib.sha256(json.dumps([args, image_id, pubkey]).encode()).hexdigest()[:16]
    return args, digest


def create_host(h, image, args, digest, pubkey, hosts_text):
    vol = f"{h['name']}-var"
    if podman("volume", "exists", vol, check=False).returncode == 0:
        podman("volume", "rm", "-f", vol)  # a re-imaged host starts with a blank disk
    podman("volume", "create", "--label", labconf.LABEL, "--label", f"{ROLE_LABEL}=var", vol)
    podman("create", *args, "--label", labconf.LABEL, "--label", f"{ROLE_LABEL}=host",
           "--label", f"{CONFIG_LABEL}={digest}", image)
    # The user's own file (sshd reads it as the user): a tar whose entry carries the user's
    # ids, copied without podman's chown to root.
    podman("cp", "--archive=false", "-", f"{h['name']}:/home/{LAB_USER}/.ssh",
           input=authorized_keys_tar(pubkey))
    hostsfile = labconf.STATE / "etc_hosts"
    hostsfile.write_text(hosts_text)
    os.chmod(hostsfile, 0o644)
    podman("cp", str(hostsfile), f"{h['name']}:/etc/hosts")
    podman("start", h["name"])


def authorized_keys_tar(pubkey):
    data = (pubkey + "\n").encode()
    info = tarfile.TarInfo("authorized_keys")
    info.size, info.mode, info.uid, info.gid = len(data), 0o600, LAB_UID, LAB_UID
    info.uname = info.gname = LAB_USER
    info.mtime = int(time.time())
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def wait_ssh(hosts, timeout=90):
    deadline = time.monotonic() + timeout
    pending = list(hosts)
    while pending and time.monotonic() < deadline:
        for h in list(pending):
            try:
                with socket.create_connection((h["address"], 22), timeout=1) as s:
                    if s.recv(64).startswith(b"SSH-"):
                        pending.remove(h)
            except OSError:
                pass
        if pending:
            time.sleep(0.5)
    if pending:
        names = ", ".join(h["name"] for h in pending)
        raise SystemExit(f"labhosts: sshd did not answer on {names} within {timeout}s; "
                         f"see `podman logs <name>` and `podman exec <name> journalctl -b`")


def refresh_known_hosts(hosts):
    out = run("ssh-keyscan", "-T", "5", "-t", "ed25519",
              *[h["address"] for h in hosts]).stdout
    lines = sorted(line for line in out.splitlines() if line and not line.startswith("#"))
    if len(lines) != len(hosts):
        raise SystemExit(f"labhosts: ssh-keyscan got {len(lines)} keys for {len(hosts)} hosts")
    kh = SSH_DIR / "known_hosts"
    kh.write_text("\n".join(lines) + "\n")
    os.chmod(kh, 0o600)


def wait_booted(hosts, timeout=120):
    """Wait until systemd has finished booting on every host (running or degraded), asking over
    SSH as the lab's user. Until boot has got far enough (systemd-user-sessions), pam_nologin
    refuses every login but root's: ssh then fails (255) and is tried again."""
    deadline = time.monotonic() + timeout

    def ask(h):
        left = max(1, int(deadline - time.monotonic()))
        return subprocess.Popen(
            [*ssh_base(), f"{LAB_USER}@{h['address']}",
             f"timeout {left} systemctl is-system-running --wait; "
             "systemctl --failed --no-legend --plain | awk '{print $1}'"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    asking = {h["name"]: ask(h) for h in hosts}
    for h in hosts:
        while True:
            out, err = asking[h["name"]].communicate()
            if asking[h["name"]].returncode != 255 or time.monotonic() >= deadline:
                break
            time.sleep(1)
            asking[h["name"]] = ask(h)
        lines = out.split()
        state = lines[0] if lines else "unknown"
        failed = lines[1:]
        note = f" (failed units: {', '.join(failed)})" if failed else ""
        say(f"host {h['name']}: {h['address']} {h['os']}, systemd {state}{note}")
        if state not in ("running", "degraded"):
            raise SystemExit(f"labhosts: host {h['name']} did not boot (systemd: {state}; "
                             f"ssh as {LAB_USER}: {err.strip() or 'ok'}); "
                             f"see `podman exec {h['name']} journalctl -b`")


# ---------------------------------------------------------------------------------------------
# inventory

def write_inventory(hosts):
    entries = [{"name": h["name"], "address": h["address"], "os": h["os"], "ssh_user": LAB_USER,
                "ssh_port": 22, "ssh_key": str(KEY)} for h in hosts]
    labconf.STATE.mkdir(parents=True, exist_ok=True)
    _write(labconf.STATE / "hosts.json", json.dumps(entries, indent=2) + "\n")
    kh = SSH_DIR / "known_hosts"
    ssh_args = f"-o UserKnownHostsFile={kh} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
    ini = ["# Generated by lab/hosts/labhosts.py up: the lab's hosts, reached over SSH.",
           "[lab]"]
    ini += [f"{e['name']} ansible_host={e['address']} ansible_port={e['ssh_port']} "
            f"ansible_user={e['ssh_user']} ansible_ssh_private_key_file={e['ssh_key']} "
            f"lab_os={e['os']}" for e in entries]
    ini += ["", "[lab:vars]", f"ansible_ssh_common_args='{ssh_args}'",
            "ansible_python_interpreter=/usr/bin/python3", ""]
    _write(labconf.STATE / "hosts.ini", "\n".join(ini))
    cfg = []
    for e in entries:
        cfg += [f"Host {e['name']}", f"  HostName {e['address']}", f"  User {e['ssh_user']}",
                f"  Port {e['ssh_port']}", f"  IdentityFile {e['ssh_key']}",
                "  IdentitiesOnly yes", f"  UserKnownHostsFile {kh}",
                "  StrictHostKeyChecking yes", ""]
    _write(SSH_DIR / "config", "\n".join(cfg))


def _write(path, text):
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o600 if path.parent == SSH_DIR else 0o644)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
def pid_alive(pid):
    try:
        os.kill(int(pid), 0)
    except (OSError, TypeError, ValueError):
        return False
    return int(pid) > 0


# commands

def cmd_up(_args):
    started = time.monotonic()
    hosts = desired_hosts()
    pubkey = ensure_key()
    images = {suite: host_image(suite) for suite in sorted({h["os"] for h in hosts})}
    ensure_network()

    wanted = {h["name"]: h for h in hosts}
    configs = {}
    for h in hosts:
        image_id = podman("image", "inspect", "--format", "{{.Id}}", images[h["os"]]).stdout.strip()
        configs[h["name"]] = host_config(h, image_id, pubkey, hosts)

    stale, keep = [], set()
    for c in lab_containers():
        name = c["Names"][0]
        labels = c.get("Labels") or {}
        if name not in wanted:
            stale.append(c)
        elif labels.get(CONFIG_LABEL) != configs[name][1]:
            say(f"host {name}: settings changed, re-imaging")
            stale.append(c)
        elif c.get("State") != "running":
            say(f"host {name}: {c.get('State')}, re-imaging")
            stale.append(c)
        elif not pid_alive(c.get("Pid")):
            # podman still says running when the machine's processes were all ended (the end
            # of a session, a reboot): the host's init is gone, so it is as good as stopped.
            say(f"host {name}: podman says running but its init (pid {c.get('Pid')}) is gone, re-imaging")
            stale.append(c)
        else:
            keep.add(name)
    remove_containers(stale)
    for vol in podman_json("volume", "ls", "--format", "json",
                           "--filter", f"label={labconf.LABEL}"):
        if vol["Name"].removesuffix("-var") not in keep and vol["Name"] not in (
                f"{n}-var" for n in wanted):
            say(f"volume {vol['Name']}: left over, removing")
            podman("volume", "rm", "-f", vol["Name"], check=False)

    last = labconf.STATE / "etc_hosts"
    hosts_changed = not last.exists() or last.read_text() != etc_hosts(hosts)
    for h in hosts:
        if h["name"] in keep:
            say(f"host {h['name']}: running, up to date")
            if hosts_changed:
                update_hosts_block(h, hosts)
            continue
        say(f"host {h['name']}: creating ({h['os']}, {h['address']})")
        args, digest = configs[h["name"]]
        create_host(h, images[h["os"]], args, digest, pubkey, etc_hosts(hosts))

    ensure_machine_side()
    wait_ssh(hosts)
    kh = SSH_DIR / "known_hosts"
    if len(keep) < len(hosts) or not kh.exists() or \
            len(kh.read_text().splitlines()) != len(hosts):
        refresh_known_hosts(hosts)  # new hosts have new host keys
    wait_booted(hosts)
    write_inventory(hosts)
    prune_images(set(images.values()))
    say(f"up: {len(hosts)} hosts in {time.monotonic() - started:.1f}s; inventory "
        f"{labconf.STATE / 'hosts.ini'}; try: ssh -F {SSH_DIR / 'config'} {hosts[0]['name']}")


def cmd_status(_args):
    ctrs = lab_containers()
    if not ctrs:
        say("no lab hosts")
    for c in sorted(ctrs, key=lambda c: c["Names"][0]):
        say(f"host {c['Names'][0]}: {c.get('State')} {c.get('Status', '')} image {c.get('Image')}")
    for v in podman_json("volume", "ls", "--format", "json", "--filter", f"label={labconf.LABEL}"):
        say(f"volume {v['Name']}")
    for n in podman_json("network", "ls", "--format", "json",
                         "--filter", f"label={labconf.LABEL}"):
        say(f"network {n['name']}: {n.get('subnets')} internal={n.get('internal')}")
    for img in podman_json("images", "--format", "json", "--filter", f"label={labconf.LABEL}"):
        say(f"image {', '.join(img.get('Names') or [img['Id'][:12]])}")
    inv = labconf.STATE / "hosts.json"
    if inv.exists():
        say(f"inventory {inv}")


def cmd_down(args):
    remove_containers(lab_containers())
    for v in podman_json("volume", "ls", "--format", "json", "--filter", f"label={labconf.LABEL}"):
        say(f"volume {v['Name']}: removing")
        podman("volume", "rm", "-f", v["Name"], check=False)
    remove_machine_side()
    for n in podman_json("network", "ls", "--format", "json",
                         "--filter", f"label={labconf.LABEL}"):
        bridge = n.get("network_interface")
        say(f"network {n['name']}: removing")
        podman("network", "rm", "-f", n["name"], check=False)
        if bridge and run("ip", "link", "show", bridge, check=False).returncode == 0:
            run("ip", "link", "del", bridge, check=False)
    # authorized_keys: written by labs from before the lab user (the key now goes in as a tar).
    for f in ("hosts.json", "hosts.ini", "etc_hosts", "authorized_keys"):
        (labconf.STATE / f).unlink(missing_ok=True)
    if args.all:
        # host images first: they are children of the rootfs images.
        imgs = podman_json("images", "--format", "json", "--filter", f"label={labconf.LABEL}")
        imgs.sort(key=lambda i: (i.get("Labels") or {}).get(ROLE_LABEL) != "host-image")
        for img in imgs:
            say(f"image {', '.join(img.get('Names') or [img['Id'][:12]])}: removing")
            podman("rmi", "-f", img["Id"], check=False)
    else:
        say("images kept (rebuilding them takes minutes); `down --all` removes them too")
    say("down: done")


def main(argv=None):
    ap = argparse.ArgumentParser(description="The lab's air-gapped hosts (podman containers).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("up", help="create or converge the hosts")
    sub.add_parser("status", help="show the lab's hosts, volumes, network and images")
    down = sub.add_parser("down", help="remove everything the lab's hosts use")
    down.add_argument("--all", action="store_true", help="remove the images too")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("labhosts: run as root (the hosts are rootful podman containers)")
    {"up": cmd_up, "status": cmd_status, "down": cmd_down}[args.cmd](args)


if __name__ == "__main__":
    main()
