# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a Debian archive: Release, Packages, versions and the dependency closure.

The fixtures are excerpts of Debian 12.15 (bookworm, Release of 11 July 2026), copied unchanged:
fixtures/debian/bookworm-Release holds its header and some of its MD5Sum and SHA256 lines, and
fixtures/debian/bookworm-main-amd64-Packages 42 stanzas of main/binary-amd64/Packages.xz (some
essential and required packages and libraries they need, iptables, conntrack and ebtables with
their libraries, and packages chosen for their relations: sse3-support's Pre-Depends, brag's
"tcl8.3 | tclsh" whose first member no longer exists, libtcl8.6's "Provides: libtcl",
misspell-fixer's "ugrep | grep" that the essential grep satisfies, and linux-doc, which bookworm
lists in two versions).
"""

from __future__ import annotations

import gzip
import lzma
import os

import pytest

from ansible_collections.airgap.kubernetes.plugins.plugin_utils import debian_archive as da

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures", "debian")


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


@pytest.fixture(name="stanzas", scope="module")
def fixture_stanzas():
    return da.parse_packages(fixture("bookworm-main-amd64-Packages"))


def names(stanzas):
    return [s["Package"] for s in stanzas]


# -- Release ----------------------------------------------------------------------------------

def test_release_fields_and_sha256_lines():
    release = da.parse_release(fixture("bookworm-Release"))
    assert (release["Codename"], release["Version"], release["Date"]) == ("bookworm", "12.15", "Sat, 11 Jul 2026 10:16:37 UTC")
    # Only the SHA256 section: the MD5Sum lines of the same files are not taken.
    assert release["SHA256"]["main/binary-amd64/Packages.xz"] == (
        "9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5", 8790396)
    assert "MD5Sum" not in release["SHA256"] and len(release["SHA256"]) == 8


def test_the_index_to_fetch_is_xz_then_gz():
    release = da.parse_release(fixture("bookworm-Release"))
    assert da.index_path(release, "main", "amd64") == (
        "main/binary-amd64/Packages.xz", "9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5", 8790396)
    del release["SHA256"]["main/binary-amd64/Packages.xz"]
    assert da.index_path(release, "main", "amd64")[0] == "main/binary-amd64/Packages.gz"
    assert da.index_path(release, "contrib", "amd64")[0] == "contrib/binary-amd64/Packages.gz"
    with pytest.raises(da.ArchiveError, match=r"has no SHA256 for main/binary-i386/Packages.xz or Packages.gz"):
        da.index_path(release, "main", "i386")


def test_a_file_that_is_not_a_release_is_refused():
    with pytest.raises(da.ArchiveError, match="not a Release field"):
        da.parse_release("<html>\n<title>404 Not Found</title>\n")


# -- Packages ---------------------------------------------------------------------------------

def test_packages_stanzas(stanzas):
    assert len(stanzas) == 42
    iptables = next(s for s in stanzas if s["Package"] == "iptables")
    assert iptables["Version"] == "1.8.9-2"
    assert iptables["Filename"] == "pool/main/i/iptables/iptables_1.8.9-2_amd64.deb"
    assert (iptables["Size"], iptables["SHA256"]) == (
        "360192", "2928d3ca6ca8a3dc3f423f6752822b1f3614a5ba609ff7806bcba4449ffe90e1")
    # A field continued on the next lines keeps its continuation lines.
    assert iptables["Tag"].split("\n")[-1] == "security::firewall, use::monitor, works-with::network-traffic"


@pytest.mark.parametrize("compress, suffix", [(lzma.compress, ".xz"), (gzip.compress, ".gz"), (bytes, "")])
def test_an_index_in_each_compression(compress, suffix):
    data = fixture("bookworm-main-amd64-Packages").encode()
    archive = da.Archive.from_index(compress(data), "main/binary-amd64/Packages" + suffix)
    assert len(archive.packages) == 41  # linux-doc twice


def test_a_truncated_index_is_refused():
    data = lzma.compress(fixture("bookworm-main-amd64-Packages").encode())
    with pytest.raises(da.ArchiveError, match="cannot decompress main/binary-amd64/Packages.xz"):
        da.Archive.from_index(data[:2000], "main/binary-amd64/Packages.xz")


@pytest.mark.parametrize("value, expected", [
    # iproute2 (bookworm): an alternative with a version constraint and a virtual package
    ("debconf (>= 0.5) | debconf-2.0, libbpf1 (>= 1:0.6.0), libcap2-bin",
     [["debconf", "debconf-2.0"], ["libbpf1"], ["libcap2-bin"]]),
    # ebtables (trixie): an architecture qualifier
    ("netbase (>= 6.0), perl:any, libc6 (>= 2.34)", [["netbase"], ["perl"], ["libc6"]]),
    # usrmerge (bookworm)
    ("perl:any, libfile-find-rule-perl", [["perl"], ["libfile-find-rule-perl"]]),
    (None, []),
])
def test_relations(value, expected):
    assert da.parse_relation(value) == expected


@pytest.mark.parametrize("first, second, expected", [
    ("1:1.4.7-1+b2", "1.4.8-2", 1),             # the epoch wins (conntrack)
    ("3.0.20-1~deb12u2", "3.0.20-1", -1),       # '~' sorts before the end (libssl3)
    ("2.38.1-5+deb12u3", "2.38.1-5", 1),        # a stable update (util-linux)
    ("6.1.176-1", "6.1.170-3", 1),              # digits compare as numbers (linux-doc)
    ("30+20221128-1", "30+20221128-1", 0),      # kmod
    ("1.8.9-2", "1.8.11-2", -1),                # iptables in bookworm and trixie
    ("7.6.q-32", "7.6.q-36", -1),               # letters in the upstream version (libwrap0)
    ("1.0", "1.0a", -1),
])
def test_version_order(first, second, expected):
    assert da.compare_versions(first, second) == expected
    assert da.compare_versions(second, first) == -expected


# -- the closure ------------------------------------------------------------------------------

def test_the_base_system_is_essential_and_required_packages_and_their_dependencies(stanzas):
    base = da.Archive(stanzas, avoid=["usrmerge"]).base()
    # libc6 is Priority: optional, but every essential package needs it.
    assert {"coreutils", "tar", "dpkg", "login", "debconf", "libc6", "libgcc-s1", "gcc-12-base",
            "libselinux1", "zlib1g", "libpam0g", "usr-is-merged"} <= base
    assert not {"iptables", "netbase", "libmnl0", "usrmerge", "cdebconf"} & base


def test_avoid_takes_the_alternative_debootstrap_takes(stanzas):
    # init-system-helpers (Essential) depends on "usrmerge | usr-is-merged".
    assert "usrmerge" in da.Archive(stanzas).base()
    assert "usrmerge" not in da.Archive(stanzas, avoid=["usrmerge"]).base()


def test_closure_leaves_out_the_base_system(stanzas):
    archive = da.Archive(stanzas, avoid=["usrmerge"])
    assert names(archive.closure(["iptables"])) == [
        "iptables", "libip4tc2", "libip6tc2", "libmnl0", "libnetfilter-conntrack3", "libnfnetlink0",
        "libnftnl11", "libxtables12", "netbase"]
    assert names(archive.closure(["conntrack", "ebtables"])) == [
        "conntrack", "ebtables", "libmnl0", "libnetfilter-conntrack3", "libnfnetlink0", "netbase"]


def test_pre_depends_are_followed(stanzas):
    # sse3-support: "Pre-Depends: isa-support (= 15.1)", and no Depends.
    assert names(da.Archive(stanzas).closure(["sse3-support"])) == ["isa-support", "sse3-support"]


def test_alternatives_take_the_first_that_exists_and_virtual_packages_their_provider(stanzas):
    # brag: "Depends: uudeview, tcl8.3 | tclsh"; bookworm has no tcl8.3, and tcl provides tclsh.
    assert names(da.Archive(stanzas).closure(["brag"])) == ["brag", "libtcl8.6", "libuu0", "tcl", "tcl8.6", "uudeview"]
    # itcl3: "Depends: libtcl, ..."; libtcl8.6 provides libtcl.
    assert names(da.Archive(stanzas).closure(["itcl3"])) == ["itcl3", "libtcl8.6"]


def test_an_alternative_the_base_system_satisfies_adds_nothing(stanzas):
    # misspell-fixer: "Depends: ugrep | grep (>= 2.28)"; grep is essential, so ugrep stays out
    # although it is first and exists.
    assert names(da.Archive(stanzas).closure(["misspell-fixer"])) == ["misspell-fixer"]
    # cdebconf provides debconf-2.0 too, but "debconf | debconf-2.0" is debconf's, a required one.
    assert "cdebconf" not in da.Archive(stanzas).base()


def test_the_archives_version_is_the_highest(stanzas):
    archive = da.Archive(stanzas)
    assert [s["Version"] for s in stanzas if s["Package"] == "linux-doc"] == ["6.1.170-3", "6.1.176-1"]
    assert archive.packages["linux-doc"]["Version"] == "6.1.176-1"
    assert da.Archive(list(reversed(stanzas))).packages["linux-doc"]["Version"] == "6.1.176-1"


def test_a_missing_package_or_dependency_is_named(stanzas):
    archive = da.Archive([s for s in stanzas if s["Package"] != "libnfnetlink0"])
    with pytest.raises(da.ArchiveError, match=r"^no package kmod, socat in the archive$"):
        archive.closure(["iptables", "socat", "kmod"])
    with pytest.raises(da.ArchiveError, match=r"^libnetfilter-conntrack3 1.0.9-3 \(needed by conntrack\) Depends "
                                              r"libnfnetlink0: in no package of the archive$"):
        archive.closure(["conntrack"])
    with pytest.raises(da.ArchiveError, match=r"^iptables 1.8.9-2 \(requested\) Depends libnfnetlink0: "):
        archive.closure(["iptables"])


def test_a_signature_check_without_gpgv_says_what_to_install(tmp_path):
    with pytest.raises(da.ArchiveError, match=r"^no-such-gpgv not found: install gpgv "):
        da.verify_inrelease(str(tmp_path / "InRelease"), str(tmp_path / "keyring.gpg"), gpgv="no-such-gpgv")
