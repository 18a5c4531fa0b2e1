# -*- coding: utf-8 -*-
# Copyright (c) airgap.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a cluster file, for the inventory plugin and every action that takes one.

A cluster file may come from anywhere, so it is read defensively: at most 1 MiB, a regular file,
UTF-8, one YAML document, no anchor or alias (a loader builds whatever an alias bomb describes),
no duplicate key (YAML keeps the last one silently, and Ansible's warning about it quotes the
lines around it: a password), no tag other than ``!vault`` (and ``!unsafe``) on a scalar, nesting
at most 32 deep. The scan runs over PyYAML's event stream, which builds nothing; then PyYAML's
safe loader (libyaml's parser when present) builds plain data, with ``!vault`` values as Ansible's
EncryptedString, decrypted only where they are used (with the vault secrets the command line was
given). Time and memory are linear in the file's size: the worst 1 MiB file (a quarter of a
million list items) takes 3-6 s and under 250 MB to read and check on 2 cores, 10,000 hosts 2-4 s.
(Ansible's own loader tags every value with its origin and took 8 s just to load the former.)
"""

from __future__ import annotations

import os
import re
import stat

import yaml

from ansible.parsing.vault import EncryptedString
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.model import resolve
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.schema import API_VERSION, join_path
from ansible_collections.airgap.kubernetes.plugins.plugin_utils.cluster.validate import (
    ClusterConfigError,
    check,
    excerpt,
    problems_message,
)

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 32
# How many anchors, aliases or tags one file reports before it only counts them.
_MAX_REPORTED = 20
FILE = "(file)"
# Tags a cluster file may carry: Ansible's !vault (an encrypted value) and !unsafe (a no-op here:
# no value is ever templated) on scalars, and the YAML core schema's own scalar and collection
# tags; not !!binary, !!timestamp, !!set, !!python/...
_SCALAR_TAGS = {"!vault", "!unsafe"}
_CORE_TAGS = ("str", "int", "float", "bool", "null", "map", "seq")
_TAGS = _SCALAR_TAGS | {"!"} | {"tag:yaml.org,2002:" + name for name in _CORE_TAGS}
# The file names the inventory plugin takes without looking inside, and what it looks for inside
# any other .yml/.yaml file.
_NAME = re.compile(r"(^|\.)cluster\.ya?ml$")
_DECLARES = re.compile(r"^apiVersion:\s*[\"']?%s" % re.escape(API_VERSION.split("/", maxsplit=1)[0]),
                       re.MULTILINE)


def is_cluster_file(path):
    """Whether ``path`` is a cluster file by its name (cluster.yml, cluster.yaml, *.cluster.yml,
    *.cluster.yaml) or, for another regular .yml/.yaml file, by declaring the apiVersion."""
    if not path.endswith((".yml", ".yaml")):
        return False
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
    except OSError:
        return False
    if _NAME.search(os.path.basename(path)):
        return True
    try:
        with open(path, "rb") as handle:
            return bool(_DECLARES.search(handle.read(65536).decode("utf-8", errors="replace")))
    except OSError:
        return False


def _fail(source, message):
    raise ClusterConfigError(["%s: %s" % (FILE, message)], source=source)


def read_text(source):
    """The text of a cluster file, or ClusterConfigError: a regular file of at most
    MAX_FILE_BYTES, UTF-8 (a byte order mark is dropped)."""
    try:
        info = os.stat(source)
    except OSError as exc:
        _fail(source, "cannot read it: %s" % exc.strerror)
    if not stat.S_ISREG(info.st_mode):
        _fail(source, "is not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        _fail(source, "is %d bytes; a cluster file has at most %d (1 MiB)" % (info.st_size, MAX_FILE_BYTES))
    try:
        with open(source, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        _fail(source, "cannot read it: %s" % exc.strerror)
    if len(data) > MAX_FILE_BYTES:
        _fail(source, "grew past %d bytes (1 MiB) while being read" % MAX_FILE_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        _fail(source, "is not UTF-8 text: byte 0x%02x at line %d" % (data[exc.start], data.count(b"\n", 0, exc.start) + 1))
    return text[1:] if text.startswith("\ufeff") else text


class _Frame:
    """A mapping or sequence being scanned: its field path, and where the scan is inside it."""

    __slots__ = ("path", "is_map", "keys", "key", "expect_key", "index")

    def __init__(self, path, is_map):
        self.path, self.is_map = path, is_map
        self.keys, self.key, self.expect_key, self.index = {}, None, True, 0

    def child(self):
        return join_path(self.path, self.key) if self.is_map else "%s[%d]" % (self.path, self.index)

    def advance(self):
        if self.is_map:
            self.expect_key = True
        else:
            self.index += 1


def _line(event):
    return event.start_mark.line + 1


class _Scan:
    """The problems of one YAML text, from its event stream."""

    def __init__(self):
        self.problems = []
        self.stack = []
        self.documents = 0
        self.reported = 0

    def add(self, path, message):
        self.problems.append("%s: %s" % (path or "(top level)", message))

    def add_counted(self, path, message):
        """Anchors, aliases and tags: the first few, then a count."""
        self.reported += 1
        if self.reported <= _MAX_REPORTED:
            self.add(path, message)

    def marks(self, path, event):
        """Anchors, aliases and tags on one node."""
        if isinstance(event, yaml.AliasEvent):
            self.add_counted(path, "YAML alias *%s (line %d): anchors and aliases are not accepted in a "
                             "cluster file (a few lines of them can expand to gigabytes); write the value out"
                             % (event.anchor[:40], _line(event)))
            return
        if event.anchor:
            self.add_counted(path, "YAML anchor &%s (line %d): anchors and aliases are not accepted in a "
                             "cluster file; write the value out" % (event.anchor[:40], _line(event)))
        if event.tag and (event.tag not in _TAGS or event.tag in _SCALAR_TAGS
                          and not isinstance(event, yaml.ScalarEvent)):
            self.add_counted(path, "YAML tag %s (line %d) is not accepted (!vault on a value, for an encrypted "
                             "one, is)" % (excerpt(event.tag), _line(event)))

    def key(self, top, event):
        """A key of the mapping ``top``; False when the scan cannot go on."""
        if isinstance(event, yaml.ScalarEvent):
            key = event.value[:100]
            path = join_path(top.path, key)
            if key == "<<":
                self.add(path, "YAML merge key (line %d): not accepted in a cluster file; write the keys out"
                         % _line(event))
            elif key in top.keys:
                self.add(path, "duplicate key (lines %d and %d): YAML keeps only the last one; remove one"
                         % (top.keys[key], _line(event)))
            else:
                top.keys[key] = _line(event)
        elif isinstance(event, yaml.AliasEvent):
            key, path = "*" + event.anchor[:40], top.path
        else:
            self.add(top.path, "a key that is a mapping or a list (line %d): keys are plain strings" % _line(event))
            return False
        self.marks(path, event)
        top.key, top.expect_key = key, False
        return True

    def node(self, event):
        """A scalar, alias, mapping or sequence starts: a key, or a value. False when the scan
        cannot go on."""
        top = self.stack[-1] if self.stack else None
        if top is not None and top.is_map and top.expect_key:
            return self.key(top, event)
        path = top.child() if top is not None else ""
        self.marks(path, event)
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if len(self.stack) >= MAX_DEPTH:
                self.add(path, "nested more than %d levels deep (line %d)" % (MAX_DEPTH, _line(event)))
                return False
            self.stack.append(_Frame(path, isinstance(event, yaml.MappingStartEvent)))
        elif top is not None:
            top.advance()
        return True

    def run(self, text):
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            for event in yaml.parse(text, Loader=loader):
                if isinstance(event, yaml.DocumentStartEvent):
                    self.documents += 1
                elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                    self.stack.pop()
                    if self.stack:
                        self.stack[-1].advance()
                elif isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent, yaml.MappingStartEvent,
                                        yaml.SequenceStartEvent)):
                    if not self.node(event):
                        break
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = " at line %d, column %d" % (mark.line + 1, mark.column + 1) if mark else ""
            self.add(FILE, "is not valid YAML%s: %s" % (where, exc.problem or exc.context))
        except yaml.YAMLError as exc:
            self.add(FILE, "is not valid YAML (%s)" % type(exc).__name__)
        if self.documents > 1:
            self.add(FILE, "holds %d YAML documents; a cluster file is one" % self.documents)
        if self.reported > _MAX_REPORTED:
            self.add(FILE, "%d anchors, aliases or tags in all; the first %d are listed"
                     % (self.reported, _MAX_REPORTED))
        return self.problems


def scan(text):
    """Every problem of a YAML text as a cluster file, before anything is built from it."""
    return _Scan().run(text)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # pylint: disable=too-many-ancestors
    """PyYAML's safe loader, plus Ansible's !vault and !unsafe on scalars."""


def _vault(loader, node):
    return EncryptedString(ciphertext=loader.construct_scalar(node))


_Loader.add_constructor("!vault", _vault)
_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def read_cluster_file(source):
    """The content of the cluster file at ``source``, read defensively (see the module's
    docstring). Raises ClusterConfigError listing the file's problems."""
    text = read_text(source)
    problems = scan(text)
    if problems:
        raise ClusterConfigError(problems, source=source)
    try:
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506  # a safe loader, with two scalar constructors
    except yaml.YAMLError as exc:
        _fail(source, "cannot be loaded (%s)" % type(exc).__name__)
    if raw is None:
        _fail(source, "is empty; a cluster file starts with plugin: airgap.kubernetes.cluster, apiVersion: %s "
              "and kind: Cluster (airgap.kubernetes.generate_cluster_config writes one)" % API_VERSION)
    return raw


def load_cluster(loader, path, check_files=False):
    """Read, check and resolve the cluster file at `path`.

    Returns ``(cluster, None)``, or ``(None, failure)`` where failure holds ``msg`` (and
    ``problems``) for the action to return with ``failed=True``. ``loader`` (the action's
    DataLoader) is not needed: !vault values decrypt with the run's vault secrets when used.
    """
    del loader
    source = os.path.abspath(path)
    try:
        raw = read_cluster_file(source)
    except ClusterConfigError as exc:
        return None, {"problems": exc.problems, "msg": str(exc)}
    base_dir = os.path.dirname(source)
    config, problems = check(raw, base_dir=base_dir, check_files=check_files)
    if problems:
        return None, {"problems": problems, "msg": problems_message(source, problems)}
    return resolve(config, base_dir=base_dir), None
