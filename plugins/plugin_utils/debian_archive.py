# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a Debian archive: its signed Release file (InRelease), its Packages index, and the
dependency closure of a list of package names.

The bundle (bundle.py) fetches the files and checks their checksums; this module checks the
InRelease signature (with gpgv and a keyring, as apt does), parses and resolves, so that the
lab's mirror builder trusts and computes exactly what the bundle does by importing it. It has no
imports from Ansible or from the collection: the lab loads it by path.

The closure follows Depends and Pre-Depends (not Recommends or Suggests). Version constraints
are not solved: the archive's version of each package is taken (the highest, when a suite lists
a name twice). An alternative ``a | b`` is satisfied by the base system when one of its members
is part of it, and otherwise takes the first member the archive has, as a real package or
through another package's Provides. The base system is what every Debian host has: the packages
marked ``Essential: yes`` or ``Priority: required`` and their own dependencies (libc6 is
``Priority: optional`` but every essential package needs it), which is what debootstrap's
minbase variant installs. It is left out of the closure; the requested names themselves are
always in it. ``avoid`` names packages an alternative takes only when nothing else satisfies it,
for the choices debootstrap makes by hand (bookworm hosts have usr-is-merged, not usrmerge).

Controller-side code; standard library only.
"""

from __future__ import annotations

import gzip
import io
import lzma
import os
import re
import shutil
import subprocess
import tempfile

# Bump when the closure rules change, so cached closures (bundle.py) are computed again.
REVISION = 1
_DEP_NAME = re.compile(r"^([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9-]+)?$")
_PRIORITY = {"required": 0, "important": 1, "standard": 2, "optional": 3, "extra": 4}


class ArchiveError(Exception):
    """An index that cannot be read or a dependency the archive cannot satisfy."""


# -- Release ---------------------------------------------------------------------------------

def signature_tools(keyring, gpgv="gpgv"):
    """The path of gpgv, when it and ``keyring`` are there; else ArchiveError saying what to
    install (checked before a build downloads anything)."""
    program = shutil.which(gpgv)
    if not program:
        raise ArchiveError("%s not found: install gpgv (Debian/Ubuntu: package gpgv, Fedora/RHEL: "
                           "gnupg2) to check the archive's signature" % gpgv)
    if not os.path.isfile(keyring):
        raise ArchiveError("the keyring %s does not exist (Debian/Ubuntu: package "
                           "debian-archive-keyring; or point bundle.debianKeyring at Debian's "
                           "archive keys)" % keyring)
    return program


def verify_inrelease(path, keyring, gpgv="gpgv"):
    """Check the OpenPGP signature of an InRelease file against ``keyring`` (a file of public
    keys, such as Debian's /usr/share/keyrings/debian-archive-keyring.gpg) with gpgv, as apt
    does: at least one good signature from a key of the keyring (an expired or revoked key does
    not count), and no bad one. Returns ``(signed text, [fingerprints of the signing keys]``;
    only the signed text is returned, so nothing outside the signature is ever read. Raises
    ArchiveError naming what failed (gpgv missing, keyring missing, gpgv's verdict)."""
    program = signature_tools(keyring, gpgv)
    home = tempfile.mkdtemp(prefix="airgap-gpgv-")
    try:
        out = os.path.join(home, "Release")
        # This runs in the controller's process (the build_bundle action) and in the lab's mirror
        # builder, never in a module: there is no AnsibleModule.run_command to call.
        run = subprocess.run(  # pylint: disable=ansible-bad-function
            [program, "--homedir", home, "--status-fd", "1", "--keyring", os.path.abspath(keyring),
             "--output", out, path],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
        # One block of status lines per signature (NEWSIG); a block counts when gpgv calls it
        # GOODSIG (EXPKEYSIG, REVKEYSIG, EXPSIG do not) and VALIDSIG names its key.
        blocks = []
        for line in run.stdout.splitlines():
            words = line[9:].split() if line.startswith("[GNUPG:] ") else []
            if words and words[0] == "NEWSIG":
                blocks.append([])
            elif words and blocks:
                blocks[-1].append(words)
        good, other = [], []
        for block in blocks:
            kinds = dict((words[0], words) for words in block)
            if "GOODSIG" in kinds and "VALIDSIG" in kinds:
                good.append(kinds["VALIDSIG"][1])
            else:
                other.extend(" ".join(kinds[kind][:2]) for kind in (
                    "BADSIG", "EXPKEYSIG", "REVKEYSIG", "EXPSIG", "ERRSIG", "NO_PUBKEY") if kind in kinds)
        if "BADSIG" in run.stdout or run.returncode != 0 or not good or not os.path.exists(out):
            detail = "; ".join(other) if blocks else "no OpenPGP signature in it"
            detail = detail or (run.stderr.strip().splitlines() or ["gpgv exit %d" % run.returncode])[-1]
            raise ArchiveError("the signature does not verify against %s: %s" % (keyring, detail))
        with open(out, encoding="utf-8", errors="replace") as handle:
            return handle.read(), good
    finally:
        shutil.rmtree(home, ignore_errors=True)


def parse_release(text):
    """The fields of a Release file: ``{field: value}``, and under ``"SHA256"`` a mapping
    ``{path: (sha256, size)}`` (the other checksum fields are left out)."""
    fields, files, current = {}, {}, None
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0] in " \t":
            if current == "SHA256":
                parts = line.split()
                if len(parts) == 3:
                    files[parts[2]] = (parts[0].lower(), int(parts[1]))
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ArchiveError("not a Release field: %r" % line[:80])
        current = key.strip()
        if current != "SHA256":
            fields[current] = value.strip()
    fields["SHA256"] = files
    return fields


def index_path(release, component, arch):
    """The Packages index to fetch for one component and architecture, as named in a parsed
    Release: ``(path, sha256, size)``; the .xz index where there is one, otherwise .gz."""
    for suffix in (".xz", ".gz"):
        path = "%s/binary-%s/Packages%s" % (component, arch, suffix)
        if path in release["SHA256"]:
            return (path,) + release["SHA256"][path]
    raise ArchiveError("has no SHA256 for %s/binary-%s/Packages.xz or Packages.gz" % (component, arch))


# -- Packages --------------------------------------------------------------------------------

def _lines(data, path):
    """The lines of a Packages index from its .xz, .gz or plain bytes (chosen by ``path``),
    decompressed as they are read."""
    stream = io.BytesIO(data)
    if path.endswith(".xz"):
        stream = lzma.LZMAFile(stream)
    elif path.endswith(".gz"):
        stream = gzip.GzipFile(fileobj=stream)
    try:
        yield from io.TextIOWrapper(stream, encoding="utf-8", errors="replace")
    except (lzma.LZMAError, OSError, EOFError) as exc:
        raise ArchiveError("cannot decompress %s: %s" % (path, exc))


# The fields the closure and the bundle read; the rest of a stanza (descriptions, tags, Breaks)
# is most of an index's size and is not kept.
FIELDS = ("Package", "Version", "Architecture", "Essential", "Priority", "Depends", "Pre-Depends",
          "Provides", "Filename", "Size", "SHA256")


def parse_packages(text, fields=None):
    """The stanzas of a Packages index (its text, or an iterable of its lines), each a
    ``{field: value}`` dict (continuation lines kept in the value, joined by newlines); only
    ``fields`` when given."""
    stanzas = []
    wanted = set(fields) if fields else None
    stanza, key = {}, None
    lines = text.splitlines() if isinstance(text, str) else text
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if stanza:
                stanzas.append(_checked(stanza))
            stanza, key = {}, None
        elif line[0] in " \t":
            if key is not None:
                stanza[key] += "\n" + line.strip()
        else:
            key, dummy, value = line.partition(":")
            if wanted is not None and key not in wanted:
                key = None
                continue
            stanza[key] = value.strip()
    if stanza:
        stanzas.append(_checked(stanza))
    return stanzas


def _checked(stanza):
    if "Package" not in stanza:
        raise ArchiveError("a Packages stanza without a Package field: %r" % sorted(stanza)[:5])
    return stanza


def parse_relation(value):
    """A Depends-style field as a list of alternative groups, each a list of package names
    (version constraints and architecture qualifiers dropped)."""
    groups = []
    for group in (value or "").split(","):
        names = []
        for alternative in group.split("|"):
            name = alternative.split("(", 1)[0].split("[", 1)[0].split("<", 1)[0].strip()
            if not name:
                continue
            match = _DEP_NAME.match(name)
            if not match:
                raise ArchiveError("cannot read the relation %r" % alternative.strip())
            names.append(match.group(1))
        if names:
            groups.append(names)
    return groups


# -- versions (Debian Policy 5.6.12: epoch, upstream version, revision) ----------------------

def _char_order(char):
    if char == "~":
        return -1
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _compare_fragment(left, right):
    """Compare an upstream version or a revision: alternating non-digit runs (compared char
    by char, '~' before anything, letters before other characters) and digit runs (compared
    as numbers)."""
    i = j = 0
    while i < len(left) or j < len(right):
        while (i < len(left) and not left[i].isdigit()) or (j < len(right) and not right[j].isdigit()):
            a = _char_order(left[i]) if i < len(left) and not left[i].isdigit() else 0
            b = _char_order(right[j]) if j < len(right) and not right[j].isdigit() else 0
            if a != b:
                return -1 if a < b else 1
            i += 1
            j += 1
        start_i, start_j = i, j
        while i < len(left) and left[i].isdigit():
            i += 1
        while j < len(right) and right[j].isdigit():
            j += 1
        a = int(left[start_i:i] or 0)
        b = int(right[start_j:j] or 0)
        if a != b:
            return -1 if a < b else 1
    return 0


def _split_version(version):
    epoch, sep, rest = version.partition(":")
    if not sep:
        epoch, rest = "0", version
    upstream, sep, revision = rest.rpartition("-")
    if not sep:
        upstream, revision = rest, ""
    return int(epoch or 0), upstream, revision


def compare_versions(left, right):
    """-1, 0 or 1 as Debian version ``left`` sorts before, equal to or after ``right``."""
    a, b = _split_version(left), _split_version(right)
    if a[0] != b[0]:
        return -1 if a[0] < b[0] else 1
    return _compare_fragment(a[1], b[1]) or _compare_fragment(a[2], b[2])


# -- the closure -----------------------------------------------------------------------------

class Archive:
    """One suite, component and architecture of an archive, from its Packages index."""

    def __init__(self, stanzas, avoid=()):
        self.avoid = set(avoid)
        self.packages = {}
        for stanza in stanzas:
            name = stanza["Package"]
            have = self.packages.get(name)
            if have is None or compare_versions(stanza.get("Version", "0"), have.get("Version", "0")) > 0:
                self.packages[name] = stanza
        self.providers = {}
        for name, stanza in sorted(self.packages.items()):
            for group in parse_relation(stanza.get("Provides")):
                for virtual in group:
                    self.providers.setdefault(virtual, []).append(name)
        self._base = None

    @classmethod
    def from_index(cls, data, path, avoid=()):
        """An Archive from the bytes of a Packages index (.xz, .gz or plain, by ``path``)."""
        return cls(parse_packages(_lines(data, path), FIELDS), avoid)

    def _candidates(self, name):
        """Real packages that satisfy ``name``: itself, else its providers (base system first,
        then by priority and name)."""
        if name in self.packages:
            return [name]
        base = self._base or set()

        def rank(provider):
            return (provider not in base, _PRIORITY.get(self.packages[provider].get("Priority"), 9), provider)
        return sorted(self.providers.get(name, []), key=rank)

    def _walk(self, roots, base, root_label, strict=True):
        """Names reachable from ``roots`` through Depends and Pre-Depends, not entering ``base``.
        Not ``strict``: a dependency the index cannot satisfy is skipped."""
        # parents: who first needed a package, to name the chain in an error; roots have none.
        chosen, parents, queue = set(), dict((r, None) for r in roots), list(roots)
        while queue:
            name = queue.pop()
            if name in chosen:
                continue
            chosen.add(name)
            stanza = self.packages[name]
            for field in ("Pre-Depends", "Depends"):
                for group in parse_relation(stanza.get(field)):
                    options = [c for member in group for c in self._candidates(member)]
                    # A package the OS row says hosts do not have, when the group offers another.
                    options = [c for c in options if c not in self.avoid] or options
                    if any(c in base for c in options):
                        continue
                    if not options and not strict:
                        continue
                    if not options:
                        chain, step = [], parents[name]
                        while step is not None:
                            chain.insert(0, step)
                            step = parents[step]
                        raise ArchiveError("%s %s (%s) %s %s: in no package of the archive" % (
                            name, stanza.get("Version"), "needed by " + " -> ".join(chain) if chain else root_label,
                            field, " | ".join(group)))
                    parents.setdefault(options[0], name)
                    queue.append(options[0])
        return chosen

    def base(self):
        """The base system: Essential and Priority: required packages and their dependencies."""
        if self._base is None:
            roots = [n for n, s in self.packages.items()
                     if s.get("Essential") == "yes" or s.get("Priority") == "required"]
            self._base = set()
            # Not strict: the base is what hosts have, however the index describes it (an
            # excerpt, or a package that needs one outside this component).
            self._base = self._walk(roots, set(), "in the base system", strict=False)
        return self._base

    def closure(self, names):
        """The stanzas of ``names`` and of everything they need beyond the base system, sorted
        by name. Raises ArchiveError naming a requested package the archive lacks."""
        missing = [n for n in names if n not in self.packages]
        if missing:
            raise ArchiveError("no package %s in the archive" % ", ".join(sorted(missing)))
        base = self.base() - set(names)
        chosen = self._walk(sorted(names), base, "requested")
        return [self.packages[n] for n in sorted(chosen)]
