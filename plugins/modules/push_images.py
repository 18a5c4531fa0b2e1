#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: push_images
short_description: Push the images of an OCI image layout into a registry, then check it holds them
version_added: 0.1.0
description:
  - Pushes every image of an OCI image layout (the C(images/) directory of an airgap.kubernetes
    bundle) into a registry under its full upstream name, for example
    C(registry.k8s.io/kube-apiserver:v1.37.2) becomes the repository C(registry.k8s.io/kube-apiserver)
    with tag C(v1.37.2).
  - Blobs the registry already has are skipped (checked with HEAD); manifests whose tag already
    names the same digest are left alone. A multi-arch index is pushed as it was published, so its
    digest stays upstream's; the registry must accept indexes whose other platforms are absent
    (distribution 3 C(validation.manifests.indexes)).
  - Then checks completeness - every image's tag resolves to its digest in the registry - and fails
    naming each image that does not.
  - Uses the Python standard library only; runs on air-gapped hosts.
options:
  layout:
    description: The OCI image layout directory (with C(index.json) and C(blobs/)).
    type: path
    required: true
  registry:
    description:
      - The registry, C(host:port) (HTTPS) or C(http://host:port) (plain HTTP, for tests).
    type: str
    required: true
  ca_file:
    description: CA certificate (PEM) the registry's certificate chains to.
    type: path
  username:
    description: User name for the registry.
    type: str
  password:
    description: Password for the registry. Never logged.
    type: str
  images:
    description:
      - Only these images (full names with tag, as in the layout). Default is every image in it.
    type: list
    elements: str
  chunk_size:
    description: Upload blobs in chunks of this many bytes; 0 uploads each blob in one request.
    type: int
    default: 0
extends_documentation_fragment:
  - airgap.kubernetes.attributes
attributes:
  check_mode:
    support: full
    details: Reports which images and blobs would be pushed, and pushes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
author:
  - airgap.kubernetes maintainers (@airgap)
"""

EXAMPLES = r"""
- name: Stage the bundle's images in the site registry
  airgap.kubernetes.push_images:
    layout: /var/lib/airgap/bundle/images
    registry: "10.0.0.11:5000"
    ca_file: /etc/airgap-registry/ca.crt
    username: airgap
    password: "{{ registry_password }}"
"""

RETURN = r"""
images:
  description: Every image with its digest and whether this run pushed anything for it.
  returned: always
  type: list
  elements: dict
  sample: [{"ref": "registry.k8s.io/pause:3.10.2", "digest": "sha256:...", "pushed": false}]
blobs_pushed:
  description: Blobs uploaded (0 when the registry already had every one).
  returned: always
  type: int
blobs_skipped:
  description: Blobs the registry already had.
  returned: always
  type: int
bytes_pushed:
  description: Bytes uploaded.
  returned: always
  type: int
missing:
  description: Images whose tag does not resolve to their digest after the push (empty on success).
  returned: always
  type: list
  elements: str
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.airgap.kubernetes.plugins.module_utils import oci_registry as oci

NAME_ANNOTATION = "io.containerd.image.name"


def layout_images(layout):
    """(ref, descriptor) of every image in an OCI layout's index.json."""
    with open(os.path.join(layout, "index.json"), encoding="utf-8") as handle:
        index = json.load(handle)
    result = []
    for desc in index.get("manifests", []):
        ref = (desc.get("annotations") or {}).get(NAME_ANNOTATION)
        if ref:
            result.append((ref, desc))
    return result


def split_ref(ref):
    repository, dummy, tag = ref.rpartition(":")
    if not repository or "/" in tag:
        raise ValueError("%r is not a name:tag reference" % ref)
    return repository, tag


class Pusher:
    def __init__(self, client, layout, check_mode):
        self.client = client
        self.layout = layout
        self.check_mode = check_mode
        self.blobs_pushed = self.blobs_skipped = self.bytes_pushed = 0

    def blob(self, digest):
        return os.path.join(self.layout, "blobs", "sha256", digest.split(":", 1)[1])

    def read(self, digest):
        path = self.blob(digest)
        if not os.path.exists(path):
            raise oci.RegistryError("the layout lacks %s" % digest)
        with open(path, "rb") as handle:
            data = handle.read()
        if oci.sha256_digest(data) != digest:
            raise oci.RegistryError("%s in the layout does not match its digest" % digest)
        return data

    def push_manifest(self, repository, desc):
        """Push one manifest (and what it refers to that the layout holds); True if anything was sent."""
        sent = False
        data = self.read(desc["digest"])
        content = json.loads(data.decode("utf-8"))
        media_type = content.get("mediaType") or desc["mediaType"]
        if "manifests" in content:
            children = [c for c in content["manifests"] if os.path.exists(self.blob(c["digest"]))]
            if not children:
                raise oci.RegistryError("the layout holds no manifest of index %s" % desc["digest"])
            for child in children:
                sent = self.push_manifest(repository, child) or sent
        else:
            for blob in oci.manifest_blobs(content):
                if self.client.blob_exists(repository, blob["digest"]):
                    self.blobs_skipped += 1
                    continue
                if not os.path.exists(self.blob(blob["digest"])):
                    raise oci.RegistryError("the layout lacks blob %s of %s" % (blob["digest"], desc["digest"]))
                if not self.check_mode:
                    self.bytes_pushed += self.client.push_blob(repository, blob["digest"], self.blob(blob["digest"]))
                self.blobs_pushed += 1
                sent = True
        if self.client.manifest_digest(repository, desc["digest"]) != desc["digest"]:
            if not self.check_mode:
                self.client.put_manifest(repository, desc["digest"], data, media_type)
            sent = True
        return sent

    def push(self, ref, desc):
        repository, tag = split_ref(ref)
        sent = False
        if self.client.manifest_digest(repository, tag) != desc["digest"]:
            sent = self.push_manifest(repository, desc)
            if not self.check_mode:
                data = self.read(desc["digest"])
                media_type = json.loads(data.decode("utf-8")).get("mediaType") or desc["mediaType"]
                self.client.put_manifest(repository, tag, data, media_type)
            sent = True
        return sent


def main():
    module = AnsibleModule(
        argument_spec={
            "layout": {"type": "path", "required": True},
            "registry": {"type": "str", "required": True},
            "ca_file": {"type": "path"},
            "username": {"type": "str"},
            "password": {"type": "str", "no_log": True},
            "images": {"type": "list", "elements": "str"},
            "chunk_size": {"type": "int", "default": 0},
        },
        required_together=[["username", "password"]],
        supports_check_mode=True,
    )
    params = module.params
    result = {"changed": False, "images": [], "blobs_pushed": 0, "blobs_skipped": 0, "bytes_pushed": 0,
              "missing": []}
    try:
        images = layout_images(params["layout"])
    except (OSError, ValueError) as exc:
        module.fail_json(msg="cannot read the OCI layout %s: %s" % (params["layout"], exc), **result)
    if params["images"] is not None:
        wanted = set(params["images"])
        absent = sorted(wanted - set(ref for ref, dummy in images))
        if absent:
            module.fail_json(msg="the layout %s lacks %s" % (params["layout"], ", ".join(absent)), **result)
        images = [(ref, desc) for ref, desc in images if ref in wanted]
    try:
        client = oci.Registry(params["registry"], username=params["username"], password=params["password"],
                              ca_file=params["ca_file"], chunk_size=params["chunk_size"] or None)
    except oci.RegistryError as exc:
        module.fail_json(msg=str(exc), **result)
    pusher = Pusher(client, params["layout"], module.check_mode)
    for ref, desc in images:
        try:
            pushed = pusher.push(ref, desc)
        except (oci.RegistryError, ValueError, OSError) as exc:
            result.update(blobs_pushed=pusher.blobs_pushed, blobs_skipped=pusher.blobs_skipped,
                          bytes_pushed=pusher.bytes_pushed, changed=pusher.blobs_pushed > 0)
            module.fail_json(msg="pushing %s to %s: %s" % (ref, params["registry"], exc), **result)
        result["images"].append({"ref": ref, "digest": desc["digest"], "pushed": pushed})
        result["changed"] = result["changed"] or pushed
    result.update(blobs_pushed=pusher.blobs_pushed, blobs_skipped=pusher.blobs_skipped,
                  bytes_pushed=pusher.bytes_pushed)
    if not module.check_mode:
        for ref, desc in images:
            repository, tag = split_ref(ref)
            try:
                held = client.manifest_digest(repository, tag)
            except oci.RegistryError as exc:
                held = "error: %s" % exc
            if held != desc["digest"]:
                result["missing"].append("%s (registry has %s, want %s)" % (ref, held or "nothing", desc["digest"]))
    client.close()
    if result["missing"]:
        module.fail_json(msg="the registry %s does not hold %d image(s) by digest: %s"
                         % (params["registry"], len(result["missing"]), "; ".join(result["missing"])), **result)
    result["msg"] = "%d images in %s: %d blobs pushed (%d bytes), %d already there" % (
        len(images), params["registry"], pusher.blobs_pushed, pusher.bytes_pushed, pusher.blobs_skipped)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
