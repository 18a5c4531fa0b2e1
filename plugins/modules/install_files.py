#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: install_files
short_description: Install files from the controller by their sha256, sending only what a host lacks
version_added: 0.1.0
description:
  - Installs a list of files (binaries, packages, unpacked archive members) of the verified bundle
    on a host in one task. Each file is known by its sha256; the host hashes what it has at each
    destination and the controller sends only the files whose content differs or is missing. A
    host that already holds every file answers in one module call, and a file that was deleted
    or changed on the host (drift) is sent again.
  - Every file sent is checked against its sha256 on the host before it replaces the
    destination, through a temporary file in the destination's directory and an atomic rename.
  - Mode, owner and group are set on every file, whether its content was sent or not.
  - An action plugin on the controller; it runs the module on the host twice at most (once to
    compare, once to install what was sent).
options:
  files:
    description: The files to install.
    type: list
    elements: dict
    required: true
    suboptions:
      src:
        description:
          - The file on the controller; V(path) is accepted for it, so that an entry of the bundle
            (C(airgap.kubernetes.cluster_model)'s C(bundle.files.<name>) or one of its C(members))
            can be given as it is (its other keys are ignored).
          - The module itself (run by the action plugin on the host) receives the staged copy's
            path on the host here.
        type: path
        aliases: [path]
      dest:
        description: The absolute path on the host. Either O(files[].dest) or O(files[].dest_dir).
        type: path
      dest_dir:
        description: The directory on the host; the file keeps the name of O(files[].src).
        type: path
      sha256:
        description:
          - The sha256 of the content (64 hex digits), normally the bundle's manifest's. Computed on
            the controller when left out.
        type: str
      mode:
        description: The file's mode, as an octal string.
        type: str
        default: "0644"
      owner:
        description: The owner (name). Default root, as the user the module runs as.
        type: str
      group:
        description: The group (name). Default the owner's group.
        type: str
  create_dirs:
    description: Create missing parent directories (mode C(0755)) of the destinations.
    type: bool
    default: true
extends_documentation_fragment:
  - airgap.kubernetes.attributes
attributes:
  check_mode:
    support: full
    details: Hashes what the host has and reports which files would be sent or changed; sends nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
notes:
  - Content is compared by sha256 on the host, so a run costs one read of every installed file
    (about a second per host for the Kubernetes binaries) and no transfer when nothing changed.
author:
  - airgap.kubernetes maintainers (@airgap)
"""

EXAMPLES = r"""
- name: Install kubeadm from the bundle
  airgap.kubernetes.install_files:
    files:
      - src: "{{ airgap.bundle.files.kubeadm.path }}"
        sha256: "{{ airgap.bundle.files.kubeadm.sha256 }}"
        dest: /usr/local/bin/kubeadm
        mode: "0755"

- name: Install containerd's binaries, unpacked from its archive on the controller
  airgap.kubernetes.install_files:
    files: >-
      {{ airgap.bundle.files.containerd.members.values()
         | map('combine', {'dest_dir': '/usr/local/bin'}) | list }}
"""

RETURN = r"""
installed:
  description: Destinations whose content was sent (or, in check mode, would be).
  type: list
  elements: str
  returned: always
  sample: [/usr/local/bin/kubelet]
fixed:
  description: Destinations whose content was right but whose mode, owner or group was changed.
  type: list
  elements: str
  returned: always
missing:
  description: Destinations whose content the host lacks and no source was staged for (the action
    plugin sends these).
  type: list
  elements: str
  returned: always
bytes_sent:
  description: Bytes sent to the host (counted by the action plugin).
  type: int
  returned: always
"""

import grp  # noqa: E402
import hashlib  # noqa: E402
import os  # noqa: E402
import pwd  # noqa: E402
import re  # noqa: E402
import stat  # noqa: E402
import tempfile  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

HEX64 = re.compile(r"^[0-9a-f]{64}$")
MODE = re.compile(r"^0?[0-7]{3,4}$")


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def wanted_ids(item):
    uid = pwd.getpwnam(item["owner"]).pw_uid if item.get("owner") else os.geteuid()
    if item.get("group"):
        gid = grp.getgrnam(item["group"]).gr_gid
    else:
        gid = pwd.getpwuid(uid).pw_gid
    return uid, gid


def current(dest):
    """(content sha256 or None, lstat or None) of what the host has at dest."""
    try:
        info = os.lstat(dest)
    except FileNotFoundError:
        return None, None
    if not stat.S_ISREG(info.st_mode):
        return None, info
    return sha256_of(dest), info


def place(module, item, uid, gid, mode):
    """The staged file, checked against its sha256, renamed over dest through a temporary file in
    dest's directory (the staged copy may be on another filesystem)."""
    staged = item["src"]
    if sha256_of(staged) != item["sha256"]:
        module.fail_json(msg="%s: the file sent for it does not have sha256 %s (corrupted in transit?)"
                         % (item["dest"], item["sha256"]))
    directory = os.path.dirname(item["dest"])
    handle, temporary = tempfile.mkstemp(prefix=".%s." % os.path.basename(item["dest"]), dir=directory)
    try:
        with os.fdopen(handle, "wb") as out, open(staged, "rb") as source:
            for chunk in iter(lambda: source.read(1 << 20), b""):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chown(temporary, uid, gid)
        os.chmod(temporary, mode)
        os.replace(temporary, item["dest"])
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    os.unlink(staged)


def main():
    module = AnsibleModule(
        argument_spec={
            "files": {"type": "list", "elements": "dict", "required": True, "options": {
                "src": {"type": "path", "aliases": ["path"]},
                "dest": {"type": "path"},
                "dest_dir": {"type": "path"},
                "sha256": {"type": "str"},
                "mode": {"type": "str", "default": "0644"},
                "owner": {"type": "str"},
                "group": {"type": "str"},
            }, "mutually_exclusive": [["dest", "dest_dir"]], "required_one_of": [["dest", "dest_dir"]]},
            "create_dirs": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    files = module.params["files"]
    problems = []
    seen = set()
    for item in files:
        item["sha256"] = (item["sha256"] or "").lower()
        if item.get("dest_dir"):
            if not item.get("src"):
                problems.append("%s: dest_dir needs src (the file keeps its name)" % item["dest_dir"])
                continue
            item["dest"] = os.path.join(item["dest_dir"], os.path.basename(item["src"]))
        if not os.path.isabs(item["dest"]):
            problems.append("%s: dest must be an absolute path" % item["dest"])
        if item["dest"] in seen:
            problems.append("%s: listed twice" % item["dest"])
        seen.add(item["dest"])
        if not HEX64.match(item["sha256"]):
            problems.append("%s: sha256 %r is not 64 hex digits" % (item["dest"], item["sha256"]))
        if not MODE.match(item["mode"] or ""):
            problems.append("%s: mode %r is not an octal mode such as 0755" % (item["dest"], item["mode"]))
    if problems:
        module.fail_json(msg="install_files: %s" % "; ".join(problems))

    installed, fixed, missing = [], [], []
    for item in files:
        dest = item["dest"]
        mode = int(item["mode"], 8)
        try:
            uid, gid = wanted_ids(item)
        except KeyError as exc:
            module.fail_json(msg="%s: no such user or group on the host: %s" % (dest, exc))
        digest, info = current(dest)
        if info is not None and not stat.S_ISREG(info.st_mode):
            module.fail_json(msg="%s exists and is not a regular file; remove it or choose another path" % dest)
        if digest != item["sha256"]:
            if not item.get("src"):
                missing.append(dest)
                continue
            installed.append(dest)
            if module.check_mode:
                continue
            directory = os.path.dirname(dest)
            if not os.path.isdir(directory):
                if not module.params["create_dirs"]:
                    module.fail_json(msg="%s: the directory %s does not exist" % (dest, directory))
                os.makedirs(directory, mode=0o755)
            place(module, item, uid, gid, mode)
            continue
        if (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) != (mode, uid, gid):
            fixed.append(dest)
            if not module.check_mode:
                os.chown(dest, uid, gid)
                os.chmod(dest, mode)
    module.exit_json(changed=bool(installed or fixed), installed=installed, fixed=fixed, missing=missing)


if __name__ == "__main__":
    main()
