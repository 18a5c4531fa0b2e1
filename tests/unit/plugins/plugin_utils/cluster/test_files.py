# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a cluster file defensively: hostile files are refused, naming the problem, in bounded
time and memory, before Ansible's YAML loader builds anything; vault values stay encrypted."""

from __future__ import annotations

import glob
import os
import resource
import subprocess
import sys
import textwrap
import time

import pytest

from ansible.parsing.vault import EncryptedString, VaultLib, VaultSecret
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster import files
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.files import (
    is_cluster_file,
    load_cluster,
    read_cluster_file,
)
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.model import MASK, masked
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.validate import ClusterConfigError, check

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
# Not .yml: YAML tools (yamllint, ansible-test sanity) would choke on them, as they should.
UNREADABLE = sorted(glob.glob(os.path.join(FIXTURES, "unreadable", "*.yml.txt")))
MINIMAL = os.path.join(FIXTURES, "valid", "minimal.yml")
SECRETS = ("secret-never-shown",)
# What one reading of a hostile file may take, at most: seconds, and the address space of a
# process that only imports ansible-core and reads the file.
SECONDS = 10
ADDRESS_SPACE = 1024 * 1024 * 1024


def expectations(path):
    with open(path, encoding="utf-8") as handle:
        return [line.split("# expect: ", 1)[1].rstrip("\n") for line in handle if line.startswith("# expect: ")]


def problems_of(path, **kwargs):
    """Every problem of the file at ``path``, read and checked as the inventory plugin does."""
    try:
        raw = read_cluster_file(path)
    except ClusterConfigError as exc:
        return exc.problems, str(exc)
    problems = check(raw, base_dir=os.path.dirname(path), **kwargs)[1]
    return problems, "\n".join(problems)


def test_there_are_enough_unreadable_fixtures():
    assert len(UNREADABLE) >= 15
    assert all(expectations(path) for path in UNREADABLE)


@pytest.mark.parametrize("path", UNREADABLE, ids=lambda p: os.path.basename(p)[:-8])
def test_unreadable_file_names_the_problem(path):
    problems, message = problems_of(path)
    assert problems, "%s should be refused" % path
    for expected in expectations(path):
        assert any(expected in problem for problem in problems), (expected, problems)
    for secret in SECRETS:
        assert secret not in message
    assert "Traceback" not in message


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


VALID = open(MINIMAL, "rb").read()  # pylint: disable=consider-using-with,unspecified-encoding


@pytest.mark.parametrize("name, data, expected", [
    ("latin1.cluster.yml", VALID.replace(b"name: one\n", b"name: caf\xe9\n"),
     "(file): is not UTF-8 text: byte 0xe9 at line 6"),
    ("utf16.cluster.yml", VALID.decode().encode("utf-16"), "(file): is not UTF-8 text: byte 0xff at line 1"),
    ("nul.cluster.yml", VALID + b"vars: {a: \"\x00\"}\n", "(file): is not valid YAML"),
    ("big.cluster.yml", VALID + b"# " + b"x" * files.MAX_FILE_BYTES + b"\n",
     "(file): is %d bytes; a cluster file has at most 1048576 (1 MiB)" % (len(VALID) + files.MAX_FILE_BYTES + 3)),
    ("control.cluster.yml", VALID + b"vars: {a: \"\x1b[2J\"}\n", "(file): is not valid YAML"),
], ids=["latin-1", "utf-16", "nul-byte", "over-1-MiB", "escape-character"])
def test_bytes_that_are_no_cluster_file(tmp_path, name, data, expected):
    problems, dummy = problems_of(write(tmp_path, name, data))
    assert any(problem.startswith(expected) for problem in problems), problems


def test_a_byte_order_mark_is_fine(tmp_path):
    assert problems_of(write(tmp_path, "bom.cluster.yml", b"\xef\xbb\xbf" + VALID))[0] == []


def test_a_directory_a_fifo_and_a_missing_file(tmp_path):
    fifo = tmp_path / "fifo.cluster.yml"
    os.mkfifo(str(fifo))
    (tmp_path / "dir.cluster.yml").mkdir()
    for name, expected in (("fifo.cluster.yml", "(file): is not a regular file"),
                           ("dir.cluster.yml", "(file): is not a regular file"),
                           ("missing.cluster.yml", "(file): cannot read it: No such file or directory")):
        assert problems_of(str(tmp_path / name))[0] == [expected]
    # The inventory plugin does not even open them.
    assert not is_cluster_file(str(fifo))
    assert not is_cluster_file(str(tmp_path / "dir.cluster.yml"))


def test_a_file_over_the_limit_is_not_read_whole(tmp_path):
    """A 20 MiB file is refused from its size, in far less time than reading it would take."""
    path = tmp_path / "huge.cluster.yml"
    with open(path, "wb") as handle:
        handle.write(VALID)
        handle.write(b"# padding\n" * (2 * 1024 * 1024))
    started = time.monotonic()
    problems = problems_of(str(path))[0]
    assert time.monotonic() - started < 1
    assert problems == ["(file): is %d bytes; a cluster file has at most 1048576 (1 MiB)" % os.path.getsize(path)]


BOUNDED = textwrap.dedent("""\
    import resource, sys, time
    sys.path[:0] = %r
    from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.files import read_cluster_file
    from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.validate import ClusterConfigError, check
    start = time.monotonic()
    try:
        raw = read_cluster_file(sys.argv[1])
        problems = check(raw, base_dir="/nonexistent", check_files=False)[1]
    except ClusterConfigError as exc:
        problems = exc.problems
    print("%%d problem(s) in %%.2f s, max RSS %%d KiB" %% (len(problems), time.monotonic() - start,
          resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
    print("\\n".join(problems[:5]))
""")


def bounded_run(path):
    """Read and check ``path`` in a child process limited to ADDRESS_SPACE bytes and SECONDS."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    return subprocess.run([sys.executable, "-c", BOUNDED % sys.path, path], preexec_fn=limit,  # noqa: S603
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=SECONDS * 3, check=False)


@pytest.mark.parametrize("name, expected", [
    ("alias_bomb", "YAML anchor &a"),
    ("deep_nesting", "nested more than 32 levels deep"),
])
def test_hostile_yaml_in_bounded_memory_and_time(name, expected):
    result = bounded_run(os.path.join(FIXTURES, "unreadable", name + ".yml.txt"))
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
    seconds = float(result.stdout.split(" in ", 1)[1].split(" s", 1)[0])
    assert seconds < SECONDS, result.stdout


def test_a_large_flow_sequence_is_bounded(tmp_path):
    """Just under 1 MiB of a single list: read and refused in bounded memory and time."""
    items = b", ".join([b"1"] * (files.MAX_FILE_BYTES // 4))
    path = write(tmp_path, "wide.cluster.yml", VALID + b"vars: {x: [" + items + b"]}\n" + b"kind: Clusters\n")
    result = bounded_run(path)
    assert result.returncode == 0, result.stderr
    assert "kind: duplicate key" in result.stdout


def vault(secret="unit-test-vault-password"):
    """A VaultLib and its secrets, with the process-wide context Ansible's CLI sets up."""
    from ansible.parsing.vault import VaultSecretsContext  # pylint: disable=import-outside-toplevel

    secrets = [("default", VaultSecret(secret.encode()))]
    if VaultSecretsContext.current(optional=True) is None:
        VaultSecretsContext.initialize(VaultSecretsContext(secrets=secrets))
    return VaultLib(secrets)


def vaulted_file(tmp_path, plaintext="vaulted-registry-password", lib=None):
    ciphertext = (lib or vault()).encrypt(plaintext).decode()
    body = VALID.decode() + "registry:\n  auth:\n    username: pusher\n    password: !vault |\n%s" % "".join(
        "      %s\n" % line for line in ciphertext.splitlines())
    return write(tmp_path, "vault.cluster.yml", body.encode())


def test_a_vault_password_stays_encrypted_through_check_and_resolve(tmp_path):
    path = vaulted_file(tmp_path)
    cluster, failure = load_cluster(None, path)
    assert failure is None
    password = cluster["registry"]["auth"]["password"]
    assert isinstance(password, EncryptedString)
    assert str(password) == "vaulted-registry-password"  # decrypted where it is used
    assert masked(cluster)["registry"]["auth"]["password"] == MASK
    assert cluster["registry"]["auth"]["username"] == "pusher"


def test_a_vault_value_that_cannot_be_decrypted_is_one_problem(tmp_path):
    vault()
    path = vaulted_file(tmp_path, lib=VaultLib([("default", VaultSecret(b"another-password"))]))
    problems = problems_of(path)[0]
    assert problems == ["registry.auth.password: cannot decrypt the vault-encrypted value (AnsibleVaultError); give the "
                        "vault password (--ask-vault-pass or --vault-password-file)"]


@pytest.mark.parametrize("name, content, accepted", [
    ("cluster.yml", b"", True),
    ("prod.cluster.yaml", b"", True),
    ("site.yml", b"apiVersion: airgap.kubernetes/v1alpha1\n", True),
    ("site.yml", b"apiVersion: \xff\xfe\n", False),
    ("hosts.yml", b"all:\n  hosts: {}\n", False),
    ("cluster.ini", b"", False),
])
def test_is_cluster_file(tmp_path, name, content, accepted):
    assert is_cluster_file(write(tmp_path, name, content)) is accepted


def test_rlimit_is_honoured_here():
    """The bounded runs above mean something only where RLIMIT_AS can be set."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    assert hard == resource.RLIM_INFINITY or hard >= ADDRESS_SPACE, (soft, hard)
