# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make this checkout importable as the collection airgap.kubernetes.

Ansible finds collections at <path>/ansible_collections/<namespace>/<name>. The repo root is
the collection root, and the checkout's collections/ holds ansible_collections/airgap/kubernetes
-> ../../.. (a relative symlink), so that directory is enough for ansible-playbook,
ansible-inventory and Python imports - and each checkout (a worktree, a CI clone) has its own.

    python tests/collection.py            # print a collections path (created once, reused)
    python tests/collection.py --copy DIR # copy the tracked tree to DIR/ansible_collections/airgap/kubernetes
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMESPACE, NAME = "airgap", "kubernetes"
# Not collection content (galaxy.yml build_ignore): the lab, CI and benchmark tooling,
# ansible-lint's cache, and the checkout's link to itself (collections/, a loop for anything that
# follows it).
SKIP = ("lab/", ".ci/", "bench/", ".ansible/", "collections/")


def collections_path(base=None):
    """Return a directory usable as ANSIBLE_COLLECTIONS_PATH that holds this checkout: the
    checkout's own collections/ (its ansible_collections/airgap/kubernetes is a relative link to
    the checkout), so that two checkouts on one machine never share a path; ``base`` makes one
    elsewhere instead."""
    own = os.path.join(REPO, "collections")
    if base is None and os.path.realpath(os.path.join(own, "ansible_collections", NAMESPACE, NAME)) == os.path.realpath(REPO):
        return own
    base = base or os.path.join(tempfile.gettempdir(), "airgap-kubernetes-collections-%d" % os.getuid())
    namespace_dir = os.path.join(base, "ansible_collections", NAMESPACE)
    link = os.path.join(namespace_dir, NAME)
    os.makedirs(namespace_dir, exist_ok=True)
    if os.path.islink(link) and os.readlink(link) != REPO:
        os.unlink(link)
    if not os.path.lexists(link):
        try:
            os.symlink(REPO, link)
        except FileExistsError:  # another test process created it first
            pass
    return base


def copy_tree(base):
    """Copy tracked and untracked-but-not-ignored files (what git would commit) for ansible-test,
    which needs a real directory: it resolves symlinks and checks where it runs."""
    target = os.path.join(base, "ansible_collections", NAMESPACE, NAME)
    if os.path.exists(target):
        shutil.rmtree(target)
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, check=True, stdout=subprocess.PIPE).stdout.decode().split("\0")
    for name in filter(None, files):
        source = os.path.join(REPO, name)
        if not os.path.isfile(source) or name.startswith(SKIP):
            continue
        os.makedirs(os.path.join(target, os.path.dirname(name)), exist_ok=True)
        shutil.copy2(source, os.path.join(target, name))
    return target


def environment(base=None):
    """os.environ plus ANSIBLE_COLLECTIONS_PATH pointing at this checkout."""
    env = dict(os.environ)
    env["ANSIBLE_COLLECTIONS_PATH"] = collections_path(base)
    return env


def main(argv):
    if argv[:1] == ["--copy"] and len(argv) == 2:
        print(copy_tree(argv[1]))
    elif not argv:
        print(collections_path())
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
