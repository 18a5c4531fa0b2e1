# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in for the get-pip script ansible-test downloads from ci-files.testing.ansible.com.

ansible-test bootstraps pip into each sanity-test virtual environment with that script and
stops when the host is unreachable (it is from this machine; PyPI is not). Its error message
says to save the script to ~/.ansible/test/cache/get_pip_<version>.py; tests/sanity.sh puts this
file there instead, when none is cached. It takes get-pip's command line (package pins plus
--no-setuptools/--no-wheel), installs pip from the wheel bundled with Python (ensurepip), then
installs the pinned packages from the configured index.
"""

from __future__ import annotations

import subprocess
import sys


def main(argv):
    packages = [arg for arg in argv if arg not in ("--no-setuptools", "--no-wheel")]
    # In a child process: ensurepip sets PIP_CONFIG_FILE=/dev/null in its own environment, which
    # would hide pip.conf (index, certificates) from the install below.
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
    return subprocess.call([sys.executable, "-m", "pip", "install", "--quiet"] + packages)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
