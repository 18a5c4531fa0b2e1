# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An OpenPGP signing key made for a test with gpg, to sign a loopback Debian archive's
InRelease as Debian's archive keys sign the real one."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile


class SigningKey:
    """A new ed25519 key in a gpg home of its own; ``keyring`` is its public key as a file for
    gpgv (what bundle.debianKeyring points at). ``made_at`` (gpg's YYYYMMDDTHHMMSS) makes the key
    and its signatures at that time, so that with ``expires`` (such as "1d") it is an expired
    key today whose signatures were made while it was valid."""

    def __init__(self, name, made_at=None, expires="never"):
        # A short directory: gpg-agent's socket path must fit in a sockaddr_un.
        self.home = tempfile.mkdtemp(prefix="gpg-", dir="/tmp")
        self.clock = ["--faked-system-time", made_at] if made_at else []
        self._gpg("--quick-gen-key", "%s <%s@airgap.invalid>" % (name, name), "ed25519", "sign", expires)
        self.keyring = os.path.join(self.home, "keyring.gpg")
        with open(self.keyring, "wb") as out:
            out.write(self._gpg("--export").stdout)
        listing = self._gpg("--with-colons", "--list-keys").stdout.decode()
        self.fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))

    def _gpg(self, *args, data=None):
        return subprocess.run(["gpg", "--homedir", self.home, "--batch", "--quiet", "--pinentry-mode", "loopback",
                               "--passphrase", ""] + self.clock + list(args),
                              input=data, capture_output=True, check=True)

    def clearsign(self, text):
        """``text`` as an InRelease file: clearsigned by this key."""
        return self._gpg("--clearsign", "--digest-algo", "SHA512", data=text.encode()).stdout

    def close(self):
        subprocess.run(["gpgconf", "--homedir", self.home, "--kill", "all"], capture_output=True, check=False)
        shutil.rmtree(self.home, ignore_errors=True)
