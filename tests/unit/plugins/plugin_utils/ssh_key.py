# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An OpenSSH key pair made for a test with ssh-keygen, as a user makes the bundle's signing key
on the connected side."""

from __future__ import annotations

import os
import subprocess

NAMESPACE = "airgap.kubernetes-bundle"


class SshKey:
    """A new ed25519 key pair in ``directory``: ``private`` is what bundle_signing_key names,
    ``public`` (its .pub) what bundle.publicKey names, ``fingerprint`` as ssh-keygen -l shows it.
    ``passphrase`` protects the private half."""

    def __init__(self, directory, name, passphrase=""):
        os.makedirs(directory, exist_ok=True)
        self.private = os.path.join(str(directory), name)
        self.public = self.private + ".pub"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f", self.private],
                       check=True, stdin=subprocess.DEVNULL)
        listing = subprocess.run(["ssh-keygen", "-l", "-f", self.public], check=True, capture_output=True, text=True)
        self.fingerprint = listing.stdout.split()[1]

    def sign_file(self, path, namespace=NAMESPACE):
        """Sign ``path`` into ``path``.sig with ssh-keygen itself (not the code under test), as the
        holder of this key would."""
        with open(path, "rb") as data:
            signed = subprocess.run(["ssh-keygen", "-Y", "sign", "-f", self.private, "-n", namespace], stdin=data,
                                    check=True, capture_output=True)
        with open(path + ".sig", "wb") as out:
            out.write(signed.stdout)
