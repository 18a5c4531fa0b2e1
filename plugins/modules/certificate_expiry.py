#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: certificate_expiry
short_description: Days left on a node's Kubernetes certificates, with a warning under a threshold
version_added: 0.1.0
description:
  - Reads the certificates of a node - by default the control plane's C(/etc/kubernetes/pki/*.crt) and
    C(/etc/kubernetes/pki/etcd/*.crt), the client certificates embedded in the kubeadm kubeconfigs
    (C(admin.conf), C(super-admin.conf), C(controller-manager.conf), C(scheduler.conf)), and the
    kubelet's client certificate C(/var/lib/kubelet/pki/kubelet-client-current.pem) and serving
    certificate C(/var/lib/kubelet/pki/kubelet.crt) - and returns each one's subject, issuer, dates and
    days left.
  - A certificate with fewer than O(warn_days) days left warns; an expired one, one not valid yet, or a
    file that cannot be read as a certificate fails. Files that do not exist are skipped (a worker has
    no C(etcd) directory) and listed in RV(unmatched).
  - Reads X.509 with a small DER reader in the Python standard library (no C(cryptography) package, no
    C(openssl) command). It reads dates and names only; it does not verify signatures or chains.
    Private keys in the same files (C(kubelet-client-current.pem) holds one) are skipped unread.
  - A module of its own rather than a part of M(airgap.kubernetes.cluster_health), because it reads
    files on every node (workers have kubelet certificates too), while cluster_health asks the API
    server from one place.
options:
  paths:
    description:
      - Certificate files (PEM with one or more certificates, or DER), as paths or glob patterns.
    type: list
    elements: path
    default:
      - /etc/kubernetes/pki/*.crt
      - /etc/kubernetes/pki/etcd/*.crt
      - /var/lib/kubelet/pki/kubelet-client-current.pem
      - /var/lib/kubelet/pki/kubelet.crt
  kubeconfigs:
    description:
      - Kubeconfig files (paths or glob patterns) whose users' embedded client certificates
        (C(client-certificate-data)) are read.
    type: list
    elements: path
    default:
      - /etc/kubernetes/admin.conf
      - /etc/kubernetes/super-admin.conf
      - /etc/kubernetes/controller-manager.conf
      - /etc/kubernetes/scheduler.conf
  warn_days:
    description: Warn about certificates with fewer days than this left.
    type: int
    default: 30
  report_only:
    description: Return the report without failing on expired or unreadable certificates.
    type: bool
    default: false
extends_documentation_fragment:
  - airgap.kubernetes.attributes
attributes:
  check_mode:
    support: full
    details: The module only reads files.
  diff_mode:
    support: none
  idempotent:
    support: full
seealso:
  - module: airgap.kubernetes.cluster_health
author:
  - airgap.kubernetes maintainers (@airgap)
"""

EXAMPLES = r"""
- name: Check the certificates of every node, warning with less than 60 days left
  airgap.kubernetes.certificate_expiry:
    warn_days: 60

- name: Check one certificate file only
  airgap.kubernetes.certificate_expiry:
    paths: [/etc/airgap-registry/tls.crt]
    kubeconfigs: []
"""

RETURN = r"""
certificates:
  description: Every certificate found, soonest expiry first.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file; C(path#N) for the N-th certificate of a file, C(path:user) for a kubeconfig's user.
      type: str
    subject:
      description: Subject distinguished name, for example C(CN=kube-apiserver).
      type: str
    issuer:
      description: Issuer distinguished name.
      type: str
    not_before:
      description: Start of validity, ISO 8601 UTC.
      type: str
    not_after:
      description: End of validity, ISO 8601 UTC.
      type: str
    days_left:
      description: Whole days until C(not_after) (negative when expired).
      type: int
    status:
      description: ok, warn or fail.
      type: str
  sample: [{"path": "/etc/kubernetes/pki/apiserver.crt", "subject": "CN=kube-apiserver", "issuer": "CN=kubernetes",
            "not_before": "2026-01-10T09:00:00Z", "not_after": "2027-01-10T09:05:00Z", "days_left": 364,
            "status": "ok"}]
checks:
  description: One check per certificate or unreadable file, as cluster_health returns them.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "certificate", "status": "warn", "object": "/etc/kubernetes/pki/apiserver.crt",
            "reason": "CN=kube-apiserver expires in 12 days (2027-01-10T09:05:00Z)"}]
problems:
  description: The checks that are not ok, one line each.
  returned: always
  type: list
  elements: str
counts:
  description: How many checks are ok, warn and fail.
  returned: always
  type: dict
soonest:
  description: The certificate that expires first (C(path), C(subject), C(days_left)), or null when none was found.
  returned: always
  type: dict
unmatched:
  description: Paths and patterns that matched no file.
  returned: always
  type: list
  elements: str
summary:
  description: One line, for example C(12 certificates, soonest /etc/kubernetes/pki/apiserver.crt in 364 days).
  returned: always
  type: str
"""

import base64
import datetime
import glob
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.airgap.kubernetes.plugins.module_utils import kube_api
from ansible_collections.airgap.kubernetes.plugins.module_utils import x509

ARGUMENT_SPEC = {
    "paths": {"type": "list", "elements": "path", "default": [
        "/etc/kubernetes/pki/*.crt", "/etc/kubernetes/pki/etcd/*.crt",
        "/var/lib/kubelet/pki/kubelet-client-current.pem", "/var/lib/kubelet/pki/kubelet.crt"]},
    "kubeconfigs": {"type": "list", "elements": "path", "default": [
        "/etc/kubernetes/admin.conf", "/etc/kubernetes/super-admin.conf", "/etc/kubernetes/controller-manager.conf",
        "/etc/kubernetes/scheduler.conf"]},
    "warn_days": {"type": "int", "default": 30},
    "report_only": {"type": "bool", "default": False},
}


def expand(patterns):
    """(files in order without repeats, patterns that matched nothing)."""
    files, unmatched = [], []
    for pattern in patterns:
        found = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else ([pattern] if os.path.exists(pattern) else [])
        found = [f for f in found if os.path.isfile(f)]
        if not found:
            unmatched.append(pattern)
        files.extend(f for f in found if f not in files)
    return files, unmatched


def iso(stamp):
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def assess(where, cert, now, warn_days):
    left = cert["not_after"] - now
    days = int(left.total_seconds() // 86400)
    entry = {"path": where, "subject": cert["subject"], "issuer": cert["issuer"], "serial": cert["serial"],
             "not_before": iso(cert["not_before"]), "not_after": iso(cert["not_after"]), "days_left": days}
    who = cert["subject"] or "(no subject)"
    if left.total_seconds() <= 0:
        entry.update(status="fail", reason="%s expired %d day(s) ago (%s)" % (who, -days, entry["not_after"]))
    elif cert["not_before"] > now:
        entry.update(status="fail", reason="%s is not valid before %s (is this host's clock right?)"
                     % (who, entry["not_before"]))
    elif days < warn_days:
        entry.update(status="warn", reason="%s expires in %d day(s) (%s), under the %d-day threshold; renew it "
                     "(kubeadm certs renew)" % (who, days, entry["not_after"], warn_days))
    else:
        entry.update(status="ok", reason="%s expires in %d days (%s)" % (who, days, entry["not_after"]))
    return entry


def read_file(path):
    with open(path, "rb") as handle:
        return handle.read()


def kubeconfig_certificates(path):
    """[(where, certificate)] for every user of a kubeconfig with an embedded client certificate."""
    result = []
    data = kube_api.read_kubeconfig_text(path)
    for user in data.get("users") or []:
        embedded = (user.get("user") or {}).get("client-certificate-data") if isinstance(user, dict) else None
        if embedded:
            pem = base64.b64decode(embedded).decode("ascii", "replace")
            for number, der in enumerate(x509.pem_certificates(pem)):
                result.append(("%s:%s%s" % (path, user.get("name"), "#%d" % (number + 1) if number else ""),
                               x509.parse_certificate(der)))
    return result


def scan(paths, kubeconfigs, warn_days, now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    certificates, errors = [], []
    files, unmatched = expand(paths)
    for path in files:
        try:
            found = x509.certificates_in(read_file(path))
        except (OSError, x509.CertificateError) as exc:
            errors.append({"name": "certificate", "status": "fail", "object": path,
                           "reason": "cannot read a certificate from %s: %s" % (path, getattr(exc, "strerror", None) or exc)})
            continue
        for number, cert in enumerate(found):
            certificates.append(assess(path + ("#%d" % (number + 1) if number else ""), cert, now, warn_days))
    configs, unmatched_configs = expand(kubeconfigs)
    unmatched.extend(unmatched_configs)
    for path in configs:
        try:
            found = kubeconfig_certificates(path)
        except (kube_api.KubeconfigError, x509.CertificateError, ValueError) as exc:
            errors.append({"name": "certificate", "status": "fail", "object": path,
                           "reason": "cannot read the client certificates of %s: %s" % (path, exc)})
            continue
        for where, cert in found:
            certificates.append(assess(where, cert, now, warn_days))
    certificates.sort(key=lambda c: (c["days_left"], c["path"]))
    checks = errors + [{"name": "certificate", "status": c["status"], "object": c["path"], "reason": c["reason"]}
                       for c in certificates]
    counts = {s: sum(1 for c in checks if c["status"] == s) for s in ("ok", "warn", "fail")}
    soonest = None
    if certificates:
        first = certificates[0]
        soonest = {"path": first["path"], "subject": first["subject"], "days_left": first["days_left"]}
    summary = "%d certificate(s)%s%s" % (
        len(certificates),
        ", soonest %s (%s) in %d days" % (soonest["path"], soonest["subject"], soonest["days_left"]) if soonest else "",
        "; %d failed, %d warning(s)" % (counts["fail"], counts["warn"]) if counts["fail"] or counts["warn"] else "")
    return {
        "certificates": certificates, "checks": checks, "counts": counts, "soonest": soonest,
        "unmatched": unmatched, "summary": summary,
        "problems": ["%s %s %s: %s" % (c["status"].upper(), c["name"], c["object"], c["reason"])
                     for c in checks if c["status"] != "ok"],
    }


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    if params["warn_days"] < 0:
        module.fail_json(msg="warn_days must be 0 or more, not %d" % params["warn_days"])
    result = scan(params["paths"], params["kubeconfigs"], params["warn_days"])
    result["changed"] = False
    for line in result["problems"]:
        if line.startswith("WARN "):
            module.warn(line[len("WARN "):])
    failed = [c for c in result["checks"] if c["status"] == "fail"]
    if failed and not params["report_only"]:
        module.fail_json(msg="%d certificate problem(s): %s" % (len(failed), "; ".join(
            "%s: %s" % (c["object"], c["reason"]) for c in failed)), **result)
    result["msg"] = result["summary"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
