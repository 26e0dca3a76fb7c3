# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""veeam_m365_job_info: the filters (exact name, id, shell pattern, organization), the entries (job views with their
running session), sorting, check mode, failures; the VB365 client is a fake (no network)."""

from __future__ import annotations

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils import _m365
from ansible_collections.backupops.veeam.plugins.modules import veeam_m365_job_info
from ansible_collections.backupops.veeam.tests.unit.plugins.modules.module_fakes import M365_ARGS, patch_client

DAILY = "3a6c1f10-5b1e-4e0a-9c11-000000000001"
LONG = "3a6c1f10-5b1e-4e0a-9c11-000000000005"
TEAMS = "3a6c1f10-5b1e-4e0a-9c11-000000000004"
SESSION = "9a415259-b211-4522-920a-98a2cba33f54"


def raw(job_id, name, status="Success", enabled=True, org="contoso.onmicrosoft.com"):
    return {"id": job_id, "name": name, "lastStatus": status, "isEnabled": enabled, "organization": org,
            "nextRun": "2026-11-22T22:00:00Z", "lastRun": "2026-11-21T22:00:00Z"}


class FakeVb:
    """The Vb365 methods veeam_m365_job_info uses."""

    version = "v8"

    def __init__(self, error=None):
        self.jobs = [raw(LONG, "Long Archive Job", status="Running"), raw(DAILY, "Exchange Daily"),
                     raw(TEAMS, "Teams Weekly", enabled=False, org="fabrikam.onmicrosoft.com")]
        self.error = error
        self.calls = []

    def job_view(self, job):
        return dict(_m365.job_view(job), organization=job["organization"])

    def job_views(self, organization=None):
        self.calls.append(("job_views", organization))
        if self.error is not None:
            raise self.error
        return [self.job_view(job) for job in self.jobs if organization in (None, job["organization"])]

    def find_job(self, job_id=None):
        self.calls.append(("find_job", job_id))
        for job in self.jobs:
            if job["id"] == job_id:
                return job
        raise E.NotFoundError("No VB365 job with id %s" % job_id)

    def running_session(self, job_id):
        self.calls.append(("running_session", job_id))
        return {"id": SESSION, "status": "Running", "progress": 3, "creationTime": "2026-11-22T18:00:00Z"}


@pytest.fixture
def info(run_module, monkeypatch):
    def run(client=None, **args):
        client = client or FakeVb()
        asked = patch_client(monkeypatch, client)
        return run_module(dict(M365_ARGS, **args), veeam_m365_job_info.main), client, asked
    return run


def test_every_job_sorted_by_name_with_the_running_session(info):
    result, client, asked = info()
    jobs = result.result["jobs"]
    assert not result.failed and result.result["changed"] is False and result.result["msg"] == "3 jobs"
    assert [j["name"] for j in jobs] == ["Exchange Daily", "Long Archive Job", "Teams Weekly"]
    assert [j["enabled"] for j in jobs] == [True, True, False] and [j["running"] for j in jobs] == [False, True, False]
    assert jobs[0]["last_result"] == "Success" and jobs[0]["next_run"] == "2026-11-22T22:00:00Z"
    assert jobs[0]["running_session"] is None
    assert jobs[1]["running_session"]["id"] == SESSION and jobs[1]["running_session"]["state"] == "Working"
    assert jobs[1]["running_session"]["job_id"] == LONG and jobs[1]["running_session"]["job_name"] == "Long Archive Job"
    assert result.result["api_version"] == "v8" and asked == [{}]
    assert client.calls == [("job_views", None), ("running_session", LONG)]


@pytest.mark.parametrize("args,names", [
    ({"job_name": "Teams Weekly"}, ["Teams Weekly"]),
    ({"job_name": "teams weekly"}, []),
    ({"name_pattern": "*DAILY"}, ["Exchange Daily"]),
    ({"name_pattern": "?e*"}, ["Teams Weekly"]),
    ({"organization": "fabrikam.onmicrosoft.com"}, ["Teams Weekly"]),
    ({"job_id": DAILY}, ["Exchange Daily"]),
    ({"job_id": "0f0f0f0f-1111-4222-8333-444455556666"}, []),
])
def test_filters(info, args, names):
    result = info(running_session=False, **args)[0]
    assert [j["name"] for j in result.result["jobs"]] == names


def test_without_running_sessions(info):
    result, client, _asked = info(running_session=False)
    assert all(j["running_session"] is None for j in result.result["jobs"])
    assert client.calls == [("job_views", None)]


def test_check_mode_reads_as_usual(info):
    result = info(_ansible_check_mode=True)[0]
    assert not result.failed and len(result.result["jobs"]) == 3


@pytest.mark.parametrize("args,message", [
    ({"job_id": DAILY, "job_name": "Exchange Daily"}, "parameters are mutually exclusive: job_name|job_id|name_pattern"),
    ({"job_id": DAILY, "organization": "contoso"}, "parameters are mutually exclusive: job_id|organization"),
    ({"job_name": "  "}, "job_name is empty"),
])
def test_bad_options(info, args, message):
    result = info(**args)[0]
    assert result.failed and message in result.result["msg"]


def test_a_failure_names_the_problem(info):
    result = info(client=FakeVb(error=E.NotFoundError("No VB365 organization named 'x'")), organization="x")[0]
    assert result.failed and result.result["msg"] == "No VB365 organization named 'x'"
    assert result.result["error"]["kind"] == "not_found"
