"""The EM wire format against Veeam's documented samples (``samples/``): same namespace, element names,
attribute names, nesting, order and link relations.  Ids and values are not compared, except the documented
task messages."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from emulator.em_wire import NS as NS_URI

from .conftest import ADMIN, SAMPLES, EmCaller, basic, make_api, xml

NS = "{" + NS_URI + "}"

JOB_BACKUP = "5658281f-625e-4627-89dd-d2a0c48be99e"
JOB_REPLICA = "b04c217b-0538-4650-bec4-19deff4ea1ac"
JOB_IMMEDIATE = "5adf6525-51d9-48b9-a72d-7f80701c714b"
JOB_PERIODIC = "0f5afb99-7468-42c4-a45d-28e98bc6122b"
JOB_NAS = "93dfbb3e-f420-45cf-addc-4ee9297113f2"
JOB_AGENT = "a6deb158-b26c-4140-8b26-5a3cc344e8ec"

# A scenario shaped like the documented examples (one object per job, one linked job, one linked repository...)
SCENARIO: dict[str, Any] = {
    "em": {
        "users": [{"username": ADMIN[0], "password": ADMIN[1], "role": "Portal Administrator"}],
        "backup_servers": [{"id": "d1444f74-27e6-4399-81a9-d28ba98913f0", "name": "srv12.tech.local"}],
        "jobs": [
            {"id": JOB_BACKUP, "name": "DB Backup", "type": "Backup", "platform": "HyperV", "backup_server": "srv12.tech.local",
             "objects": ["sqlsrv03"], "duration": 5, "history": [{"ago": 3600, "duration": 600, "result": "Success"}]},
            {"id": JOB_REPLICA, "name": "SQL Replication", "type": "Replica", "platform": "VMware",
             "backup_server": "srv12.tech.local", "objects": ["sql02"], "schedule_configured": False},
            {"id": JOB_IMMEDIATE, "name": "Immediate Backup Copy Job", "type": "ImmediateBackupCopy",
             "backup_server": "srv12.tech.local", "linked_jobs": ["33fecc36-554b-437b-8bf8-3fdcb11866e7"]},
            {"id": JOB_PERIODIC, "name": "Periodic Backup Copy Job", "type": "ImmediateBackupCopy",
             "backup_server": "srv12.tech.local", "linked_repository": "da49abfc-838a-40a1-90a3-40acd2bc7000"},
            {"id": JOB_NAS, "name": "Shared Files Backup", "type": "Nas", "backup_server": "srv12.tech.local",
             "objects": ["\\\\srv12\\share"]},
            {"id": JOB_AGENT, "name": "Server Backup", "type": "Agent", "platform": "AgentForWindows",
             "backup_server": "srv12.tech.local", "objects": ["Windows Servers"]},
        ],
    },
}


def sample(name: str) -> ET.Element:
    return ET.parse(SAMPLES / name).getroot()


def _local(tag: str) -> str:
    return tag.split("}", 1)[-1]


def skeleton(elem: ET.Element) -> tuple[Any, ...]:
    """(tag, attribute names, children) with runs of identical siblings collapsed and Links reduced to a marker
    (links are compared on their own, by relation and type)."""
    if _local(elem.tag) == "Links":
        return ("Links",)
    children: list[tuple[Any, ...]] = []
    for child in elem:
        sk = skeleton(child)
        if not children or children[-1] != sk:
            children.append(sk)
    return (_local(elem.tag), tuple(sorted(elem.attrib)), tuple(children))


def link_kinds(elem: ET.Element) -> list[tuple[str | None, str | None]]:
    links = elem.find(f"{NS}Links")
    return [] if links is None else [(ln.get("Rel"), ln.get("Type")) for ln in links]


def all_links(elem: ET.Element) -> list[list[tuple[str | None, str | None]]]:
    return [[(ln.get("Rel"), ln.get("Type")) for ln in links] for links in elem.iter(f"{NS}Links")]


def assert_same_shape(ours: ET.Element, theirs: ET.Element) -> None:
    assert ours.tag == theirs.tag  # same namespace and root element
    assert skeleton(ours) == skeleton(theirs)
    assert all_links(ours) == all_links(theirs)


@pytest.fixture()
def caller() -> EmCaller:
    api, _clock = make_api(scenario=SCENARIO)
    call = EmCaller(api)
    assert call.logon().status == 201
    return call


def test_namespace_and_declaration(caller: EmCaller) -> None:
    body = caller.call("GET", "/api/jobs").body.decode()
    assert body.startswith('<?xml version="1.0" encoding="utf-8"?>')
    assert 'xmlns="http://www.veeam.com/ent/v1.0"' in body.splitlines()[1]


def test_logon_session(caller: EmCaller) -> None:
    ours = xml(caller.logon().body)
    theirs = sample("em_logon_session.xml")
    assert skeleton(ours) == skeleton(theirs)
    assert link_kinds(ours) == link_kinds(theirs)
    assert [ln.get("Name") for ln in ours.iter(f"{NS}Link") if ln.get("Name")] == ["Summary"]


def test_job_references(caller: EmCaller) -> None:
    ours = caller.get_xml("/api/jobs")
    theirs = sample("em_jobs_entity_references.xml")
    replica = [r for r in ours if r.get("Name") == "SQL Replication"][0]
    assert ours.tag == theirs.tag
    assert skeleton(replica) == skeleton(theirs[0]) and link_kinds(replica) == link_kinds(theirs[0])
    backup = [r for r in ours if r.get("Name") == "DB Backup"][0]
    assert link_kinds(backup) == [("Up", "BackupServerReference"), ("Alternate", "Job"),
                                  ("Down", "BackupJobSessionReferenceList")]
    assert {r.get("Name") for r in ours} == {"DB Backup", "SQL Replication", "Immediate Backup Copy Job",
                                             "Periodic Backup Copy Job"}  # no NAS or agent jobs under /jobs


@pytest.mark.parametrize("path,sample_name", [
    (f"/api/jobs/{JOB_BACKUP}", "em_job_entity.xml"),
    (f"/api/jobs/{JOB_IMMEDIATE}", "em_job_entity_immediate_backup_copy.xml"),
    (f"/api/jobs/{JOB_PERIODIC}", "em_job_entity_periodic_backup_copy.xml"),
    (f"/api/nas/jobs/{JOB_NAS}", "em_nas_job_entity.xml"),
    (f"/api/agents/jobs/{JOB_AGENT}", "em_agent_backup_job_entity.xml"),
])
def test_job_entities(caller: EmCaller, path: str, sample_name: str) -> None:
    ours = caller.get_xml(path, "format=Entity")
    theirs = sample(sample_name)
    assert_same_shape(ours, theirs)
    assert ours.get("Type") == theirs.get("Type")
    assert ours.get("UID").rsplit(":", 1)[0] == theirs.get("UID").rsplit(":", 1)[0]
    assert ours.get("Href").endswith(f"{path.rsplit('/', 1)[1]}?format=Entity")


def test_replica_job_entity(caller: EmCaller) -> None:
    """The replication sample is from 2014 (no ``Standart`` wrapper); compare its links and top level."""
    ours = caller.get_xml(f"/api/jobs/{JOB_REPLICA}", "format=Entity")
    theirs = sample("em_job_entity_replica_vmware.xml")
    assert link_kinds(ours) == link_kinds(theirs)
    assert [_local(c.tag) for c in ours] == [_local(c.tag) for c in theirs]
    assert [_local(c.tag) for c in ours.find(f"{NS}JobInfo/{NS}ReplicaJobInfo")] == \
        [_local(c.tag) for c in theirs.find(f"{NS}JobInfo/{NS}ReplicaJobInfo")]


def test_job_reference_root(caller: EmCaller) -> None:
    root = caller.get_xml(f"/api/nas/jobs/{JOB_NAS}")
    assert root.tag == f"{NS}EntityRef" and root.get("Type") == "NasJobReference"
    assert caller.get_xml(f"/api/agents/jobs/{JOB_AGENT}").get("Type") == "AgentBackupJobReference"
    assert caller.get_xml("/api/nas/jobs", "format=Entity").tag == f"{NS}NASJobs"
    assert caller.get_xml("/api/agents/jobs", "format=Entity").tag == f"{NS}AgentBackupJobs"
    assert caller.get_xml("/api/jobs", "format=Entity").tag == f"{NS}Jobs"


def test_backup_sessions(caller: EmCaller) -> None:
    api = caller.api
    stopped = caller.get_xml(f"/api/jobs/{JOB_BACKUP}/backupSessions", "format=Entity")[0]
    assert stopped.tag == f"{NS}BackupJobSession"
    assert_same_shape(stopped, sample("em_backup_session_stopped_success.xml"))
    assert caller.call("POST", f"/api/jobs/{JOB_BACKUP}", "action=start").status == 202
    api.clock.advance(2)
    working = [s for s in caller.get_xml("/api/backupSessions", "format=Entity") if s.findtext(f"{NS}State") == "Working"]
    assert len(working) == 1
    assert_same_shape(working[0], sample("em_backup_session_working_reconstructed.xml"))
    ref = caller.get_xml("/api/backupSessions")[0]
    assert ref.get("Type") == "BackupJobSessionReference"
    assert link_kinds(ref) == [("Up", "BackupServerReference"), ("Up", "JobReference"), ("Alternate", "BackupJobSession"),
                               ("Down", "BackupTaskSessionReferenceList")]


@pytest.mark.parametrize("path,query,sample_name,message", [
    (f"/api/jobs/{JOB_BACKUP}", "action=start", "em_task_finished.xml", 'Job "DB Backup" triggered to start.'),
    (f"/api/jobs/{JOB_BACKUP}", "action=toggleScheduleEnabled", "em_task_finished_toggle_schedule.xml", "Ok"),
    (f"/api/nas/jobs/{JOB_NAS}/start", "", "em_task_finished_nas_start.xml", 'Job "Shared Files Backup" triggered to start.'),
    (f"/api/agents/jobs/{JOB_AGENT}", "action=start", "em_task_finished_agent_start.xml",
     'Job "Server Backup" triggered to start.'),
])
def test_tasks(caller: EmCaller, path: str, query: str, sample_name: str, message: str) -> None:
    resp = caller.call("POST", path, query)
    assert resp.status == 202
    running = xml(resp.body)
    assert_same_shape(running, sample("em_task_running_start_job.xml"))
    assert_same_shape(running, sample("em_job_start_202_task_running.xml"))
    caller.api.clock.advance(5)
    finished = caller.get_xml(f"/api/tasks/{running.findtext(f'{NS}TaskId')}")
    theirs = sample(sample_name)
    assert_same_shape(finished, theirs)
    assert finished.findtext(f"{NS}Operation") == theirs.findtext(f"{NS}Operation")
    assert finished.findtext(f"{NS}Result/{NS}Message") == message


def test_stop_and_retry_task_operations(caller: EmCaller) -> None:
    expectations = [
        (f"/api/jobs/{JOB_BACKUP}", "action=stop", "em_task_finished_stop_job.xml"),
        (f"/api/jobs/{JOB_BACKUP}", "action=retry", "em_task_finished_retry_job.xml"),
        (f"/api/nas/jobs/{JOB_NAS}/stop", "", "em_task_finished_nas_stop.xml"),
        (f"/api/nas/jobs/{JOB_NAS}/retry", "", "em_task_finished_nas_retry.xml"),
        (f"/api/agents/jobs/{JOB_AGENT}", "action=stop", "em_task_finished_agent_stop.xml"),
        (f"/api/agents/jobs/{JOB_AGENT}", "action=retry", "em_task_finished_agent_retry.xml"),
    ]
    for path, query, sample_name in expectations:
        task_id = xml(caller.call("POST", path, query).body).findtext(f"{NS}TaskId")
        caller.api.clock.advance(5)
        finished = caller.get_xml(f"/api/tasks/{task_id}")
        theirs = sample(sample_name)
        assert skeleton(finished) == skeleton(theirs)
        assert finished.findtext(f"{NS}Operation") == theirs.findtext(f"{NS}Operation")


def test_sync_operation_finished(caller: EmCaller) -> None:
    resp = caller.call("POST", f"/api/jobs/{JOB_IMMEDIATE}", "action=sync")
    caller.api.clock.advance(1.0)
    ours = caller.get_xml(f"/api/tasks/{xml(resp.body).findtext(f'{NS}TaskId')}")
    theirs = sample("em_task_operation_finished_sync.xml")
    assert skeleton(ours) == skeleton(theirs)
    for tag in ("State", "Operation", "Result/" + NS + "Message"):
        assert ours.findtext(NS + tag) == theirs.findtext(NS + tag)
    assert ours.find(f"{NS}Result").get("Success") == "true"


def test_session_stop_task(caller: EmCaller) -> None:
    caller.call("POST", f"/api/jobs/{JOB_BACKUP}", "action=start")
    sess = [s for s in caller.get_xml("/api/backupSessions", "format=Entity") if s.findtext(f"{NS}State") != "Stopped"][0]
    resp = caller.call("POST", f"/api/backupSessions/{sess.get('UID').rsplit(':', 1)[1]}", "action=stop")
    caller.api.clock.advance(5)
    finished = caller.get_xml(f"/api/tasks/{xml(resp.body).findtext(f'{NS}TaskId')}")
    theirs = sample("em_task_finished_stop_session.xml")
    assert skeleton(finished) == skeleton(theirs)
    assert finished.findtext(f"{NS}Result/{NS}Message") == f'Job Session "{sess.get("Name")}" triggered to stop.'


def test_query_result(caller: EmCaller) -> None:
    ours = caller.get_xml("/api/query", {"type": "Job", "filter": 'Name=="SQL Replication"', "pageSize": "15", "page": "1"})
    theirs = sample("em_query_job_by_name_reconstructed.xml")
    assert_same_shape(ours, theirs)
    first = ours.find(f"{NS}PagingInfo/{NS}Links/{NS}Link").get("Href")
    assert first.endswith("/api/query?type=Job&filter=Name%3d%3d%22SQL+Replication%22&pageSize=15&page=1")
    assert ours.find(f"{NS}PagingInfo").attrib == theirs.find(f"{NS}PagingInfo").attrib


def test_error_shape(caller: EmCaller) -> None:
    err = xml(caller.call("GET", "/api/jobs/0f5afb99-7468-42c4-a45d-000000000000").body)
    assert err.tag == f"{NS}Error" and sorted(err.attrib) == ["Message", "StatusCode"] and len(err) == 0


def test_entry_point(caller: EmCaller) -> None:
    root = caller.get_xml("/api/")
    assert root.tag == f"{NS}EnterpriseManager"
    assert link_kinds(root) == [("Down", "LogonSessionList"), ("Create", "LogonSession")]
    versions = root.findall(f"{NS}SupportedVersions/{NS}SupportedVersion")
    assert [v.get("Name") for v in versions] == ["v1_5", "v1_6", "v1_7"]
    assert [link_kinds(v) for v in versions] == [[("Create", "LogonSession")]] * 3
    assert versions[2].find(f"{NS}Links/{NS}Link").get("Href").endswith("/api/sessionMngr/?v=v1_7")


# --------------------------------------------------------------------------------------------- JSON

def _json(caller: EmCaller, path: str, query: str = "") -> Any:
    return caller.get_json(path, query)


def test_json_reference_collection(caller: EmCaller) -> None:
    theirs = json.loads((SAMPLES / "em_cloud_tenants_refs.json").read_text())
    ours = _json(caller, "/api/jobs")
    assert list(ours) == list(theirs) == ["Refs"]
    assert list(ours["Refs"][0]) == list(theirs["Refs"][0])  # Links, UID, Name, Href, Type
    assert list(ours["Refs"][0]["Links"][0]) == ["Rel", "Href", "Name", "Type"]


def test_json_backup_server_reference(caller: EmCaller) -> None:
    theirs = json.loads((SAMPLES / "em_backup_server_reference.json").read_text())
    ours = _json(caller, "/api/backupServers/d1444f74-27e6-4399-81a9-d28ba98913f0")
    assert list(ours) == list(theirs)
    assert [(ln["Rel"], ln["Type"]) for ln in ours["Links"]] == [(ln["Rel"], ln["Type"]) for ln in theirs["Links"]]


def test_json_entities(caller: EmCaller) -> None:
    task = json.loads(caller.call("POST", f"/api/jobs/{JOB_BACKUP}", "action=start",
                                  {"Accept": "application/json"}).body)
    assert list(task) == ["TaskId", "State", "Operation", "Links", "Href", "Type"]  # as em_task_running.json
    caller.api.clock.advance(5)
    done = _json(caller, f"/api/tasks/{task['TaskId']}")
    assert done["Result"] == {"Message": 'Job "DB Backup" triggered to start.', "Success": True}
    sess = _json(caller, f"/api/jobs/{JOB_BACKUP}/backupSessions", "format=Entity")
    assert list(sess) == ["BackupJobSessions"]
    first = sess["BackupJobSessions"][0]
    assert list(first) == ["IsRetry", "JobUid", "JobName", "JobType", "CreationTimeUTC", "EndTimeUTC", "State", "Result",
                           "Progress", "FailureMessage", "Name", "UID", "Links", "Href", "Type"]
    assert first["IsRetry"] is False and first["Progress"] == 100 and first["FailureMessage"] is None
    job = _json(caller, f"/api/nas/jobs/{JOB_NAS}", "format=Entity")
    assert list(job)[-5:] == ["Name", "UID", "Links", "Href", "Type"]
    assert job["Includes"]["NASObjects"][0]["InclusionMask"] == {"Extensions": ["*.*"]}
    options = job["JobScheduleOptions"]
    assert options["Standart"]["RetryOptions"]["RetrySpecified1"] is True
    assert options["Standart"]["OptionsDaily"]["Days"][0] == "Sunday"
    assert options["Standart"]["OptionsPeriodically"]["Schedule"]["Days"][0]["Name"] == "Sunday"
    assert list(options)[-3:] == ["Links", "Href", "Type"] and options["ImmediateCopyMode"] is None
    assert list(_json(caller, "/api/nas/jobs", "format=Entity")) == ["NASJobs"]
    logon = json.loads(caller.call("POST", "/api/sessionMngr/", "v=latest",
                                   {"Accept": "application/json", "Authorization": basic(*ADMIN)}, auth=False).body)
    assert list(logon) == ["UserName", "SessionId", "Links", "Href", "Type"]


def test_json_query_result(caller: EmCaller) -> None:
    refs = _json(caller, "/api/query", "type=Job&pageSize=15")
    assert list(refs) == ["Refs", "Entities", "Resources", "Links", "PagingInfo"]
    assert list(refs["Refs"]) == ["Refs"] and refs["Entities"] is None and refs["Resources"] is None
    assert list(refs["PagingInfo"]) == ["Links", "PageNum", "PageSize", "PagesCount"]
    assert refs["PagingInfo"]["PageNum"] == 1 and refs["PagingInfo"]["PageSize"] == 15
    ents = _json(caller, "/api/query", "type=BackupJobSession&format=Entities")
    assert ents["Refs"] is None and list(ents["Entities"]) == ["BackupJobSessions"]
    assert isinstance(ents["Entities"]["BackupJobSessions"]["BackupJobSessions"], list)
    entry = _json(caller, "/api/")
    assert [v["Name"] for v in entry["SupportedVersions"]["SupportedVersions"]] == ["v1_5", "v1_6", "v1_7"]


def test_an_xml_body_with_json_in_accept_is_refused(caller: EmCaller) -> None:
    """EM 9.5 Update 4 and later: an XML body with ``application/json`` anywhere in ``Accept`` fails every POST/PUT
    with 400 "Node [root] does not exist." (docs/emulator.md, assumptions)."""
    body = b'<?xml version="1.0" encoding="utf-8"?><JobStartSpec xmlns="http://www.veeam.com/ent/v1.0"/>'
    for accept in ("application/json", "application/xml, application/json", "*/*;q=0.1, application/json"):
        headers = {"Accept": accept, "Content-Type": "application/xml"}
        resp = caller.call("POST", f"/api/jobs/{JOB_BACKUP}", "action=start", headers, body=body)
        assert resp.status == 400, accept
        assert "Node [root] does not exist." in resp.body.decode("utf-8")
    # The same body asking for XML, and a JSON Accept without a body, are fine.
    assert caller.call("POST", f"/api/jobs/{JOB_BACKUP}", "action=start", {"Accept": "application/xml"},
                       body=body).status == 202
    assert caller.call("GET", "/api/jobs", headers={"Accept": "application/json"}).status == 200
