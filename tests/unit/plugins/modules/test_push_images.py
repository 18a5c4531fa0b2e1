# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""push_images: a bundle's OCI layout into a loopback registry; a second run pushes nothing."""

from __future__ import annotations

import json
import os
import sys
import tarfile

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.airgap.kubernetes.plugins.plugin_utils import bundle
from ansible_collections.airgap.kubernetes.plugins.modules import push_images

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "module_utils"))
from fake_registry import FakeRegistry  # noqa: E402, pylint: disable=wrong-import-position
from test_oci_registry import image  # noqa: E402, pylint: disable=wrong-import-position


def run(args, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args), pytest.raises(SystemExit):
        push_images.main()


@pytest.fixture(name="layout")
def fixture_layout(tmp_path):
    """The images/ directory of a bundle with a two-arch pause (amd64 carried) and hello."""
    with FakeRegistry() as upstream:
        image(upstream, "registry.k8s.io/pause", "3.10.2", ("amd64", "arm64"))
        image(upstream, "docker.io/airgapkubernetes/hello", "v1.0.0")
        plan = {"files": [], "cni": None, "images": [
            {"name": "pause", "ref": "registry.k8s.io/pause:3.10.2", "registry": upstream.base + "/registry.k8s.io",
             "repository": "pause", "tag": "3.10.2", "digest": None},
            {"name": "hello", "ref": "docker.io/airgapkubernetes/hello:v1.0.0",
             "registry": upstream.base + "/docker.io", "repository": "airgapkubernetes/hello", "tag": "v1.0.0",
             "digest": None}]}
        result = bundle.build(plan, str(tmp_path / "out"), "demo", "v1.37.2")
    with tarfile.open(result["archive"]) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    return str(tmp_path / "x" / "images"), result["bom"]


def test_push_skip_and_check(layout, capsys):
    path, bom = layout
    with FakeRegistry(auth="basic", users={"airgap": "pw"}) as reg:
        args = {"layout": path, "registry": reg.base, "username": "airgap", "password": "pw"}
        run(args, check_mode=True)
        planned = json.loads(capsys.readouterr().out)
        assert planned["changed"] and planned["blobs_pushed"] == 4 and not reg.blobs

        run(args)
        first = json.loads(capsys.readouterr().out)
        # The two images share their config blob: the second push finds it (this fake shares blobs).
        assert first["changed"] and first["blobs_pushed"] == 3 and first["blobs_skipped"] == 1
        assert first["missing"] == []
        for entry in bom["images"]:
            repository, tag = entry["ref"].rsplit(":", 1)
            assert reg.manifests[(repository, tag)][0] == open(os.path.join(path, "blobs", "sha256",
                                                                            entry["digest"][7:]), "rb").read()

        reg.log.clear()
        run(args)
        second = json.loads(capsys.readouterr().out)
        assert not second["changed"] and second["blobs_pushed"] == 0 and second["bytes_pushed"] == 0
        assert {m for m, p in reg.log} <= {"HEAD", "GET"}
        assert "pw" not in json.dumps(second)


def test_refused_credentials_and_unknown_image_are_named(layout, capsys):
    path, dummy = layout
    with FakeRegistry(auth="basic", users={"airgap": "pw"}) as reg:
        run({"layout": path, "registry": reg.base, "username": "airgap", "password": "nope"})
        failed = json.loads(capsys.readouterr().out)
        assert failed["failed"] and "credentials refused" in failed["msg"] and "nope" not in failed["msg"]
        assert failed["msg"].startswith("pushing registry.k8s.io/pause:3.10.2 to %s" % reg.base)

        run({"layout": path, "registry": reg.base, "images": ["registry.k8s.io/etcd:3.7.0-0"]})
        failed = json.loads(capsys.readouterr().out)
        assert "lacks registry.k8s.io/etcd:3.7.0-0" in failed["msg"]
