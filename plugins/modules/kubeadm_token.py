#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: kubeadm_token
short_description: Create, reuse, list and delete kubeadm bootstrap tokens; return join parameters
version_added: 0.1.0
description:
  - Runs C(kubeadm token) on a control-plane host. With O(state=present) it keeps one valid
    bootstrap token per O(description) - an existing token with that description and at least
    O(min_ttl) left is reused, otherwise a new one is created with O(ttl) - and returns it with
    the discovery hash of the cluster CA, which is what C(kubeadm join) needs.
  - With O(state=absent) it deletes the tokens with that O(description) (or O(token)).
  - "The returned RV(token) is a credential. Ansible cannot hide a return value by itself, so run
    the task with C(no_log: true) and pass the token on in a variable (see EXAMPLES)."
  - Uses the Python standard library and the C(kubeadm) binary only.
options:
  state:
    description:
      - V(present) makes sure a valid token exists and returns it; V(absent) deletes tokens.
        Every run returns the tokens (RV(tokens)); in check mode nothing changes, so a check-mode
        run lists them.
    type: str
    choices: [present, absent]
    default: present
  description:
    description: The token's description, which identifies it between runs.
    type: str
    default: airgap.kubernetes join
  token:
    description:
      - A specific token (C([a-z0-9]{6}.[a-z0-9]{16})) to create or delete instead of one found by
        O(description).
    type: str
  ttl:
    description: Lifetime of a new token, as kubeadm takes it (C(15m), C(1h)).
    type: str
    default: 15m
  min_ttl:
    description: A token with less than this many seconds left is not reused.
    type: int
    default: 300
  kubeconfig:
    description: Admin kubeconfig on the host.
    type: path
    default: /etc/kubernetes/admin.conf
  ca_cert:
    description: The cluster CA certificate, for the discovery hash.
    type: path
    default: /etc/kubernetes/pki/ca.crt
  kubeadm:
    description: The kubeadm binary.
    type: path
    default: kubeadm
extends_documentation_fragment:
  - airgap.kubernetes.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reports whether a token would be created or deleted and changes nothing; a token that would
        be created is not returned.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: A second run within O(ttl) minus O(min_ttl) reuses the same token and reports no change.
author:
  - airgap.kubernetes maintainers (@airgap)
"""

EXAMPLES = r"""
- name: Get a short-lived join token
  airgap.kubernetes.kubeadm_token:
    ttl: 15m
  register: join_token
  no_log: true
  delegate_to: "{{ groups['control_plane'][0] }}"
  run_once: true

- name: Join the node
  ansible.builtin.command:
    argv: [kubeadm, join, --config, /etc/kubernetes/kubeadm-join.yaml]
  # the join configuration is templated from join_token.token and join_token.ca_cert_hashes

- name: Delete the join tokens once every node has joined
  airgap.kubernetes.kubeadm_token:
    state: absent
"""

RETURN = r"""
token:
  description: The bootstrap token (a credential; register the task with no_log).
  returned: when O(state=present), not in check mode when a token would be created
  type: str
token_id:
  description: The token's public part (before the dot).
  returned: when O(state=present)
  type: str
  sample: abcdef
expires:
  description: When the token expires (RFC 3339).
  returned: when O(state=present)
  type: str
ca_cert_hashes:
  description: Discovery hashes of the cluster CA, for C(kubeadm join --discovery-token-ca-cert-hash).
  returned: when O(state=present)
  type: list
  elements: str
  sample: ["sha256:0d3c..."]
tokens:
  description: Every bootstrap token after the change, without the secret part.
  returned: always
  type: list
  elements: dict
  sample: [{"token_id": "abcdef", "description": "airgap.kubernetes join", "expires": "2026-11-25T21:30:00Z"}]
deleted:
  description: Token ids deleted (or that would be deleted in check mode).
  returned: when O(state=absent)
  type: list
  elements: str
"""

import datetime

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.airgap.kubernetes.plugins.module_utils import kubeadm as ku


def _expires(token):
    value = token.get("expires")
    if not value:
        return None
    return datetime.datetime.strptime(value.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z")


def _public(token):
    return {"token_id": token["token"].split(".")[0], "description": token.get("description", ""),
            "expires": token.get("expires"), "usages": token.get("usages", []),
            "groups": token.get("groups", [])}


class Tokens:
    def __init__(self, module):
        self.module = module
        self.base = [module.get_bin_path(module.params["kubeadm"], required=True),
                     "--kubeconfig", module.params["kubeconfig"], "token"]

    def run(self, *args):
        rc, out, err = self.module.run_command(self.base + list(args))
        if rc != 0:
            self.module.fail_json(msg="kubeadm token %s failed (rc %d): %s" % (args[0], rc, (err or out).strip()))
        return out

    def list(self):
        try:
            return ku.parse_token_list(self.run("list", "-o", "json"))
        except ValueError as exc:
            self.module.fail_json(msg="kubeadm token list printed something that is not JSON: %s" % exc)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["present", "absent"], default="present"),
            description=dict(type="str", default="airgap.kubernetes join"),
            token=dict(type="str", no_log=True),
            ttl=dict(type="str", default="15m"),
            min_ttl=dict(type="int", default=300),
            kubeconfig=dict(type="path", default="/etc/kubernetes/admin.conf"),
            ca_cert=dict(type="path", default="/etc/kubernetes/pki/ca.crt"),
            kubeadm=dict(type="path", default="kubeadm"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["token"] is not None and not ku.TOKEN_RE.match(params["token"]):
        module.fail_json(msg="token must look like [a-z0-9]{6}.[a-z0-9]{16} (the value is not shown)")
    tokens = Tokens(module)
    current = tokens.list()
    if params["token"]:
        mine = [t for t in current if t.get("token") == params["token"]]
    else:
        mine = [t for t in current if t.get("description") == params["description"]]

    if params["state"] == "absent":
        ids = [t["token"].split(".")[0] for t in mine]
        if ids and not module.check_mode:
            tokens.run("delete", *ids)
            current = tokens.list()
        module.exit_json(changed=bool(ids), deleted=ids, tokens=[_public(t) for t in current])

    try:
        with open(params["ca_cert"], encoding="ascii") as handle:
            hashes = [ku.ca_cert_hash(handle.read())]
    except (OSError, ValueError, ku.KubeadmError) as exc:
        module.fail_json(msg="cannot read the cluster CA %s: %s" % (params["ca_cert"], exc))

    now = datetime.datetime.now(datetime.timezone.utc)
    usable = [t for t in mine if _expires(t) is None
              or (_expires(t) - now).total_seconds() >= params["min_ttl"]]
    if usable:
        best = max(usable, key=lambda t: _expires(t) or datetime.datetime.max.replace(tzinfo=datetime.timezone.utc))
        module.exit_json(changed=False, token=best["token"], token_id=best["token"].split(".")[0],
                         expires=best.get("expires"), ca_cert_hashes=hashes,
                         tokens=[_public(t) for t in current])
    if module.check_mode:
        module.exit_json(changed=True, ca_cert_hashes=hashes, tokens=[_public(t) for t in current])
    args = ["create"]
    if params["token"]:
        args.append(params["token"])
    args += ["--ttl", params["ttl"], "--description", params["description"]]
    printed = tokens.run(*args).strip().splitlines()
    new = params["token"] or (printed[-1].strip() if printed else "")
    if not ku.TOKEN_RE.match(new):
        module.fail_json(msg="kubeadm token create printed no token")
    current = tokens.list()
    created = next((t for t in current if t.get("token") == new), {"token": new})
    module.exit_json(changed=True, token=new, token_id=new.split(".")[0], expires=created.get("expires"),
                     ca_cert_hashes=hashes, tokens=[_public(t) for t in current])


if __name__ == "__main__":
    main()
