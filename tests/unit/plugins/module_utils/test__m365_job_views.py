# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""_m365.Vb365.job_views (what veeam_m365_job_info lists): every job with its organization's name, in v8 (jobs name
their organization) and before (one list per organization), only one organization's jobs when asked, and jobs
listed without an id left out."""

from __future__ import annotations

from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import expect_error, jsonr
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_wire import ORG, ORG2, job, page

OTHER = "0f0f0f0f-1111-4222-8333-444455556666"
ORGS_V8 = {"results": [{"id": ORG, "name": "tech.onmicrosoft.com", "officeName": "Tech"},
                       {"id": ORG2, "name": "fabrikam.onmicrosoft.com", "officeName": "Fabrikam"}]}
ORGS = [{"id": ORG, "name": "tech.onmicrosoft.com"}, {"id": ORG2, "name": "fabrikam.onmicrosoft.com"}]


def v7job(**changes):
    """A job as v7 lists it: without organizationId."""
    data = job(**changes)
    data.pop("organizationId", None)
    return data


def test_v8_jobs_name_their_organization(vb_server, make_vb):
    broken = job(name="No id")
    del broken["id"]
    other = job(id=OTHER, name="Other", organizationId=ORG2, isEnabled=False, lastStatus="Running")
    vb_server.on("GET", "/v8/Jobs", page([job(), other, broken]))
    vb_server.on("GET", "/v8/Organizations", jsonr(200, ORGS_V8))
    with make_vb() as vb:
        views = vb.job_views()
    assert [(v["name"], v["organization"], v["enabled"], v["running"]) for v in views] == [
        ("Backup Job ABC", "tech.onmicrosoft.com", True, False), ("Other", "fabrikam.onmicrosoft.com", False, True)]
    assert views[1]["last_result"] is None and views[1]["last_status"] == "Running"
    assert vb_server.count("GET", "/v8/Organizations") == 1


def test_one_organization_by_its_microsoft_365_name(vb_server, make_vb):
    vb_server.on("GET", "/v8/Jobs", page([job(), job(id=OTHER, name="Other", organizationId=ORG2)]))
    vb_server.on("GET", "/v8/Organizations", jsonr(200, ORGS_V8))
    with make_vb() as vb:
        assert [v["name"] for v in vb.job_views("fabrikam")] == ["Other"]


def test_before_v8_the_organizations_are_read_for_their_jobs(vb_server, make_vb):
    vb_server.on("GET", "/v7/Jobs", jsonr(200, [v7job(), v7job(id=OTHER, name="Other")]))
    vb_server.on("GET", "/v7/Organizations", jsonr(200, ORGS))
    vb_server.on("GET", "/v7/Organizations/%s/Jobs" % ORG, jsonr(200, [v7job()]))
    vb_server.on("GET", "/v7/Organizations/%s/Jobs" % ORG2, jsonr(200, [v7job(id=OTHER, name="Other")]))
    with make_vb("v7") as vb:
        views = vb.job_views()
    assert [(v["name"], v["organization"]) for v in views] == [("Backup Job ABC", "tech.onmicrosoft.com"),
                                                               ("Other", "fabrikam.onmicrosoft.com")]


def test_before_v8_only_the_asked_organization_is_read(vb_server, make_vb):
    vb_server.on("GET", "/v7/Jobs", jsonr(200, [v7job(), v7job(id=OTHER, name="Other")]))
    vb_server.on("GET", "/v7/Organizations", jsonr(200, ORGS))
    vb_server.on("GET", "/v7/Organizations/%s/Jobs" % ORG2, jsonr(200, [v7job(id=OTHER, name="Other")]))
    with make_vb("v7") as vb:
        assert [v["name"] for v in vb.job_views("fabrikam.onmicrosoft.com")] == ["Other"]
    assert vb_server.count("GET", "/v7/Organizations/%s/Jobs" % ORG) == 0


def test_an_unknown_organization(vb_server, make_vb):
    vb_server.on("GET", "/v8/Jobs", page([job()]))
    vb_server.on("GET", "/v8/Organizations", jsonr(200, ORGS_V8))
    with expect_error("not_found", "No VB365 organization named 'contoso'"):
        with make_vb() as vb:
            vb.job_views("contoso")
