# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificates for the unit tests, made by openssl as kubeadm lays them out: a cluster CA, an API
server certificate for 127.0.0.1, an admin client certificate (O=system:masters), and a second,
foreign CA with a client certificate of its own. Also kubeconfigs in kubeadm's format.

    pki = Pki(tmp_path)            # files under tmp_path/pki
    pki.kubeconfig("https://127.0.0.1:PORT")   # admin.conf text with everything embedded
"""

from __future__ import annotations

import base64
import os
import subprocess


def openssl(*args, cwd=None):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


class Pki:
    def __init__(self, base):
        self.dir = os.path.join(str(base), "pki")
        os.makedirs(self.dir, exist_ok=True)
        self.ca = self.authority("ca", "kubernetes")
        self.foreign_ca = self.authority("foreign-ca", "somebody-else")
        self.server = self.leaf("apiserver", "kube-apiserver", self.ca, san="IP:127.0.0.1,DNS:localhost",
                                usage="serverAuth")
        self.wrong_name = self.leaf("apiserver-elsewhere", "kube-apiserver", self.ca, san="DNS:elsewhere.invalid",
                                    usage="serverAuth")
        self.admin = self.leaf("admin", "kubernetes-admin", self.ca, org="system:masters")
        self.foreign_admin = self.leaf("foreign-admin", "kubernetes-admin", self.foreign_ca, org="system:masters")

    def path(self, name):
        return os.path.join(self.dir, name)

    def authority(self, name, common_name):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "3650",
                "-keyout", self.path(name + ".key"), "-out", self.path(name + ".crt"), "-subj", "/CN=" + common_name,
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        return (self.path(name + ".crt"), self.path(name + ".key"))

    def leaf(self, name, common_name, authority, san=None, org=None, usage="clientAuth", days=365):
        subject = ("/O=%s" % org if org else "") + "/CN=" + common_name
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                self.path(name + ".key"), "-out", self.path(name + ".csr"), "-subj", subject)
        extensions = self.path(name + ".ext")
        with open(extensions, "w", encoding="ascii") as handle:
            handle.write("extendedKeyUsage=%s\nkeyUsage=critical,digitalSignature,keyEncipherment\n" % usage)
            if san:
                handle.write("subjectAltName=%s\n" % san)
        openssl("x509", "-req", "-in", self.path(name + ".csr"), "-CA", authority[0], "-CAkey", authority[1],
                "-CAcreateserial", "-days", str(days), "-out", self.path(name + ".crt"), "-extfile", extensions)
        return (self.path(name + ".crt"), self.path(name + ".key"))

    @staticmethod
    def b64(path):
        with open(path, "rb") as handle:
            return base64.b64encode(handle.read()).decode("ascii")

    def kubeconfig(self, server, client=None, ca=None, embed=True, cluster="lab", user="kubernetes-admin"):
        """A kubeconfig in kubeadm's layout (admin.conf): embedded data, or file paths with embed=False."""
        client = client or self.admin
        ca = ca or self.ca
        if embed:
            cluster_auth = "    certificate-authority-data: %s\n" % self.b64(ca[0])
            user_auth = "    client-certificate-data: %s\n    client-key-data: %s\n" % (self.b64(client[0]),
                                                                                        self.b64(client[1]))
        else:
            cluster_auth = "    certificate-authority: %s\n" % ca[0]
            user_auth = "    client-certificate: %s\n    client-key: %s\n" % client
        return ("apiVersion: v1\nclusters:\n- cluster:\n%s    server: %s\n  name: %s\ncontexts:\n- context:\n"
                "    cluster: %s\n    user: %s\n  name: %s@%s\ncurrent-context: %s@%s\nkind: Config\npreferences: {}\n"
                "users:\n- name: %s\n  user:\n%s"
                % (cluster_auth, server, cluster, cluster, user, user, cluster, user, cluster, user, user_auth))
