# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""_version: COLLECTION_VERSION (sent in the User-Agent) is galaxy.yml's version.

In a checkout the collection root has galaxy.yml; an installed collection (where ``make units`` runs the tests) has
MANIFEST.json instead, whose version ``ansible-galaxy collection build`` took from galaxy.yml.  Either must be
there: a test that finds neither fails rather than passing without checking anything.
"""

from __future__ import annotations

import json
import os
import re

import yaml

from ansible_collections.backupops.veeam.plugins.module_utils._version import COLLECTION_VERSION

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def declared_versions():
    """``{file name: version}`` of galaxy.yml and MANIFEST.json, for those that exist at the collection root."""
    found = {}
    galaxy = os.path.join(ROOT, "galaxy.yml")
    if os.path.exists(galaxy):
        with open(galaxy, encoding="utf-8") as handle:
            found["galaxy.yml"] = str(yaml.safe_load(handle)["version"])
    manifest = os.path.join(ROOT, "MANIFEST.json")
    if os.path.exists(manifest):
        with open(manifest, encoding="utf-8") as handle:
            found["MANIFEST.json"] = str(json.load(handle)["collection_info"]["version"])
    return found


def test_the_collection_root_is_found():
    assert os.path.isdir(os.path.join(ROOT, "plugins", "module_utils")), ROOT


def test_collection_version_is_galaxy_ymls():
    versions = declared_versions()
    assert versions, "neither galaxy.yml nor MANIFEST.json at the collection root %s" % ROOT
    for source, version in versions.items():
        assert COLLECTION_VERSION == version, (
            "plugins/module_utils/_version.py says %s, %s says %s: change COLLECTION_VERSION with the release"
            % (COLLECTION_VERSION, source, version))


def test_collection_version_is_a_semantic_version():
    assert re.match(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$", COLLECTION_VERSION), COLLECTION_VERSION
