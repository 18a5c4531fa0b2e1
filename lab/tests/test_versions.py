"""The lab builds the versions of the collection's release table (labconf.lab_versions).

Needs no lab: reads lab/versions.yml and plugins/plugin_utils/releases.py only.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mirror"))
import labconf  # noqa: E402

RELEASES = labconf.collection_module("releases")


@pytest.mark.parametrize("table, go", [
    ("v1.37.2", "v1.37.2"),       # Kubernetes and most: the tag itself
    ("2.4.2", "v2.4.2"),          # containerd's and registry's files drop the tag's v
    ("3.7.0-0", "v3.7.0"),        # etcd's image: build 0 of v3.7.0
    ("v1.38.0-rc.0", "v1.38.0-rc.0"),  # a pre-release is not an image build
])
def test_go_version(table, go):
    assert labconf.go_version(table) == go


@pytest.mark.parametrize("release", RELEASES.supported_versions())
def test_every_release_resolves(release):
    vs = labconf.lab_versions(release)
    assert vs["kubernetes"]["version"] == release
    assert all(row["version"] for row in vs.values())


@pytest.mark.parametrize("release", RELEASES.supported_versions())
def test_the_lab_builds_every_row_of_the_release(release):
    """Each artifact and image the collection downloads for a release is some component's."""
    components = labconf.lab_table()["components"].values()
    claimed = {(kind, name) for lab in components for kind in ("artifacts", "images") for name in lab.get(kind, [])}
    rows = RELEASES.release(release)
    missing = [(kind, r["name"]) for kind in ("artifacts", "images") for r in rows[kind]
               if (kind, r["name"]) not in claimed]
    assert not missing, f"lab/versions.yml: no component builds {missing}"


def test_disagreeing_rows_are_refused(monkeypatch):
    table = labconf.lab_table()
    table["components"]["containerd"]["artifacts"] = ["containerd", "runc"]
    monkeypatch.setattr(labconf, "lab_table", lambda: table)
    with pytest.raises(ValueError, match="containerd's rows .* disagree"):
        labconf.lab_versions()


def test_build_knows_every_component():
    import build  # noqa: E402  pylint: disable=import-outside-toplevel

    assert set(build.COMPONENTS) == set(labconf.lab_table()["components"])
    assert set(labconf.lab_tools()) <= set(build.REVISION)


def test_versions_yml_pins_no_release_version(monkeypatch):
    """Versions of what the collection ships are the table's; versions.yml pins only tooling."""
    table = labconf.lab_table()
    table["components"]["runc"]["version"] = "v1.5.3"
    monkeypatch.setattr(labconf, "lab_table", lambda: table)
    with pytest.raises(ValueError, match="runc's version is the release table's"):
        labconf.lab_versions()
