# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""_em: fewer requests for many jobs - names looked up together, running sessions read with one query, the tasks
of a logon session read with one GET /api/tasks per round."""

from __future__ import annotations

import re

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import expect_error, xml
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_wire import (
    AGENT, DB_BACKUP, OTHER_SERVER_JOB, REPLICA, SECOND, empty_query, entity, query_result, sessions_list, task_xml,
    tasks_list)


def tasks_reply(*tasks):
    return tasks_list(*tasks)


@pytest.fixture
def three_jobs(em_server):
    """'DB Backup', 'SQL Replication' and the agent job 'Server Backup', idle; each start answers task-1, -2, -3."""
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, "em_job_entity.xml"))
    em_server.on("GET", "/api/jobs/%s" % REPLICA, xml(200, "em_job_entity_replica_vmware.xml"))
    em_server.on("GET", "/api/agents/jobs/%s" % AGENT, xml(200, "em_agent_backup_job_entity.xml"))
    em_server.on("GET", "/api/query", empty_query())  # no session running, of either session type
    for num, path in enumerate(("/api/jobs/%s" % DB_BACKUP, "/api/jobs/%s" % REPLICA, "/api/agents/jobs/%s" % AGENT), 1):
        em_server.on("POST", path, xml(202, task_xml(num, "Running")))
    return em_server


@pytest.fixture
def start_jobs(make_em, lifecycle):
    def run(*job_ids, wait_for="task"):
        with make_em() as em:
            return lifecycle(_em.EmJobs(em, wait_for=wait_for), "started").run(
                [{"job_id": job_id} for job_id in job_ids])
    return run


AGENT_URN = "urn:veeam:AgentBackupJob:%s" % AGENT


def test_several_tasks_are_read_with_one_list_per_round(three_jobs, start_jobs, clock):
    three_jobs.on("GET", "/api/tasks",
                  tasks_reply(task_xml(1, "Finished", True), task_xml(2, "Running"), task_xml(3, "Running")),
                  tasks_reply(task_xml(1, "Finished", True), task_xml(2, "Finished", False, "Cannot start job"),
                              task_xml(3, "OperationFinished", True)))
    three_jobs.on("GET", "/api/tasks/task-3", xml(200, task_xml(3, "Finished", True)))
    three_jobs.on("GET", "/api/jobs/%s/replicaSessions" % REPLICA, sessions_list())  # read again after the refusal
    with expect_error("job_failed") as caught:
        start_jobs(DB_BACKUP, REPLICA, AGENT_URN)
    assert three_jobs.count("GET", "/api/tasks") == 2       # rounds with several tasks pending: one list each
    assert three_jobs.count("GET", "/api/tasks/task-3") == 1  # the last one alone: read on its own
    assert str(caught.error) == ("3 jobs: 2 started, 0 already running, 1 failed: Enterprise Manager did not start job "
                                 "'SQL Replication': task task-2 finished with 'Cannot start job'")
    results = caught.error.details["jobs"]
    assert [r["task"]["state"] for r in results] == ["Finished", "Finished", "Finished"]
    assert [r["task"]["success"] for r in results] == [True, False, True]
    assert [r["elapsed"] for r in results] == [1.0, 2.0, 3.0]
    assert [len(r["history"]) for r in results] == [2, 2, 3]
    assert clock.sleeps == [1.0, 1.0, 1.0]                 # fresh: no poll at once after the starts


def test_a_task_missing_from_the_list_is_read_on_its_own(three_jobs, start_jobs):
    three_jobs.on("GET", "/api/tasks", tasks_reply(task_xml(1, "Finished", True)))
    three_jobs.on("GET", "/api/tasks/task-2", xml(200, task_xml(2, "Finished", True)))
    result = start_jobs(DB_BACKUP, REPLICA)
    assert [r["task"]["state"] for r in result["jobs"]] == ["Finished", "Finished"]
    assert result["msg"] == "2 jobs: 2 started, 0 already running, 0 failed"
    assert three_jobs.count("GET", "/api/tasks") == 1 and three_jobs.count("GET", "/api/tasks/task-2") == 1


def test_one_task_is_read_on_its_own(three_jobs, start_jobs):
    three_jobs.on("GET", "/api/jobs/%s/backupSessions" % DB_BACKUP, sessions_list())
    three_jobs.on("GET", "/api/tasks/task-1", xml(200, task_xml(1, "Finished", True)))
    result = start_jobs(DB_BACKUP)
    assert three_jobs.count("GET", "/api/tasks") == 0 and three_jobs.count("GET", "/api/tasks/task-1") == 1
    assert result["history"] == [{"state": "Running", "elapsed": 0.0}, {"state": "Finished", "elapsed": 1.0}]


def test_sessions_are_not_prefetched_with_the_task_list(three_jobs, start_jobs):
    """Waiting for backup sessions reads each job's own task and sessions: no task list."""
    three_jobs.on("GET", "/api/jobs/%s/backupSessions" % DB_BACKUP, sessions_list())
    three_jobs.on("GET", "/api/jobs/%s/replicaSessions" % REPLICA, sessions_list())
    three_jobs.on("GET", "/api/tasks/task-1", xml(200, task_xml(1, "Finished", False, "Cannot start job")))
    three_jobs.on("GET", "/api/tasks/task-2", xml(200, task_xml(2, "Finished", False, "Cannot start job")))
    with expect_error("job_failed", "2 jobs: 0 started, 0 already running, 2 failed"):
        start_jobs(DB_BACKUP, REPLICA, wait_for="session")
    assert three_jobs.count("GET", "/api/tasks") == 0 and three_jobs.count("GET", "/api/query") == 0


# ------------------------------------------------------------------------------------------------ find_jobs
def queries(server):
    return [(c.params["type"][0], c.params.get("filter", [""])[0]) for c in server.calls if c.path == "/api/query"]


def test_several_names_are_looked_up_with_one_query_per_type(em_server, make_em):
    db_backup, other = entity("em_job_entity.xml"), entity("em_job_entity.xml", new_name="Other", new_id=SECOND)
    agents = xml(200, query_result(entity("em_agent_backup_job_entity.xml"), wrapper="AgentBackupJobs"))
    answers = {"Job": xml(200, query_result(db_backup, other)), "AgentBackupJob": agents}
    em_server.on("GET", "/api/query", lambda call: answers.get(call.params["type"][0], empty_query()))
    with make_em() as em:
        jobs = em.find_jobs([{"job_name": "Other"}, {"job_name": "Server Backup"}, {"job_name": "DB Backup"}])
    assert [job["id"] for job in jobs] == [SECOND, AGENT, DB_BACKUP]
    assert queries(em_server) == [(kind, 'Name=="Other",Name=="Server Backup",Name=="DB Backup"')
                                  for kind in ("Job", "NasJob", "AgentBackupJob")]


def test_one_name_is_looked_up_as_before(em_server, make_em):
    em_server.on("GET", "/api/query", xml(200, query_result(entity("em_job_entity.xml"))))
    with make_em() as em:
        assert [j["id"] for j in em.find_jobs([{"job_name": "DB Backup", "job_type": "backup"}])] == [DB_BACKUP]
    assert queries(em_server) == [("Job", 'Name=="DB Backup"')]


def test_a_job_type_narrows_the_lookup_and_the_matches(em_server, make_em):
    em_server.on("GET", "/api/query", xml(200, query_result(entity("em_job_entity.xml"),
                                                            entity("em_job_entity_replica_vmware.xml"))))
    with make_em() as em:
        jobs = em.find_jobs([{"job_name": "DB Backup", "job_type": "backup"},
                             {"job_name": "SQL Replication", "job_type": "replica"}])
    assert [job["type"] for job in jobs] == ["backup", "replica"] and jobs[1]["id"] == REPLICA
    assert [kind for kind, _f in queries(em_server)] == ["Job"]


def test_many_names_are_split_into_queries_of_bounded_length(em_server, make_em):
    em_server.on("GET", "/api/query", empty_query())
    names = ["Job %03d with a fairly long name, to fill the filter" % i for i in range(60)]
    with expect_error("not_found"):
        with make_em() as em:
            em.find_jobs([{"job_name": n, "job_type": "backup"} for n in names])
    filters = [f for _kind, f in queries(em_server)]
    batched, typed = filters[:3], filters[3:]
    asked = [n for f in batched for n in re.findall(r'Name=="((?:[^"]|"")*)"', f)]
    assert asked == names
    assert all(f.count("Name==") <= _em.NAMES_PER_QUERY for f in batched)
    # the first job not found: one more lookup of its name in every type, to name a wrong job_type
    assert [kind for kind, _f in queries(em_server)[3:]] == ["Job", "NasJob", "AgentBackupJob"]
    assert typed == ['Name=="%s"' % names[0]] * 3


def test_the_same_errors_as_find_job_in_the_order_of_the_jobs(em_server, make_em):
    twin = entity("em_job_entity.xml", new_id=OTHER_SERVER_JOB, server="vbr02.lab.local")
    em_server.on("GET", "/api/query", xml(200, query_result(entity("em_job_entity.xml"), twin,
                                                            entity("em_job_entity.xml", new_name="OTHER",
                                                                   new_id=SECOND))))
    with expect_error("not_found", "No job named 'Other'", "same name in other case: OTHER"):
        with make_em() as em:
            em.find_jobs([{"job_name": "Other", "job_type": "backup"}, {"job_name": "DB Backup", "job_type": "backup"}])
    with expect_error("ambiguous", "2 jobs are named 'DB Backup'"):
        with make_em() as em:
            em.find_jobs([{"job_name": "DB Backup", "job_type": "backup"}, {"job_name": "Other", "job_type": "backup"}])
    with make_em() as em:
        jobs = em.find_jobs([{"job_name": "DB Backup", "job_type": "backup", "backup_server": "vbr02.lab.local"},
                             {"job_name": "OTHER", "job_type": "backup"}])
    assert [job["id"] for job in jobs] == [OTHER_SERVER_JOB, SECOND]


def test_an_empty_name_among_several_is_refused(em_server, make_em):
    em_server.on("GET", "/api/query", xml(200, query_result(entity("em_job_entity.xml"))))
    with expect_error("usage", "job_name is empty"):
        with make_em() as em:
            em.find_jobs([{"job_name": "DB Backup", "job_type": "backup"}, {"job_name": " ", "job_type": "backup"}])


def test_jobs_by_id_and_by_name_together(em_server, make_em):
    em_server.on("GET", "/api/query", xml(200, query_result(entity("em_job_entity.xml", new_name="Other",
                                                                   new_id=SECOND), entity("em_job_entity.xml",
                                                                                          new_name="Third"))))
    em_server.on("GET", "/api/jobs/%s" % DB_BACKUP, xml(200, entity("em_job_entity.xml")))
    with make_em() as em:
        jobs = em.find_jobs([{"job_name": "Third", "job_type": "backup"}, {"job_id": DB_BACKUP, "job_type": "backup"},
                             {"job_name": "Other", "job_type": "backup"}])
    assert [job["name"] for job in jobs] == ["Third", "DB Backup", "Other"]


# ------------------------------------------------------------------------------------------------ running sessions
def session_xml(job_id, state, created, kind="Backup", job_kind="Job"):
    root = "ReplicaJobSession" if kind == "Replica" else "BackupJobSession"
    return ('<%s Type="%s" Href="https://em:9398/api/backupSessions/%s" Name="s@%s" '
            'UID="urn:veeam:%s:%s"><JobUid>urn:veeam:%s:%s</JobUid><JobName>j</JobName><JobType>%s</JobType>'
            '<CreationTimeUTC>%s</CreationTimeUTC><State>%s</State><Result>None</Result><Progress>5</Progress>'
            '</%s>' % (root, root, created[-2:] + job_id[2:], created, root, created[-2:] + job_id[2:], job_kind,
                       job_id, kind, created, state, root))


def sessions_query(*sessions, wrapper="BackupJobSessions", page=1, pages=1):
    return xml(200, '<QueryResult xmlns="http://www.veeam.com/ent/v1.0"><Entities><%s>%s</%s></Entities>'
                    '<PagingInfo PageNum="%d" PageSize="500" PagesCount="%d"/></QueryResult>'
                    % (wrapper, "".join(sessions), wrapper, page, pages))


def test_running_sessions_of_several_jobs_with_one_query(em_server, make_em):
    em_server.on("GET", "/api/query", lambda call: {
        "BackupJobSession": sessions_query(session_xml(DB_BACKUP, "Working", "2026-01-01T10:00:01Z"),
                                           session_xml(DB_BACKUP, "Starting", "2026-01-01T10:05:02Z"),
                                           session_xml(AGENT, "Working", "2026-01-01T10:00:03Z", "AgentBackup"),
                                           session_xml(SECOND, "Working", "2026-01-01T10:00:04Z")),
        "ReplicaJobSession": sessions_query(session_xml(REPLICA, "Working", "2026-01-01T10:00:05Z", "Replica"),
                                            wrapper="ReplicaJobSessions")}[call.params["type"][0]])
    jobs = [{"id": DB_BACKUP, "type": "backup"}, {"id": REPLICA, "type": "replica"}, {"id": AGENT, "type": "agent"},
            {"id": OTHER_SERVER_JOB, "type": "backup"}]
    with make_em() as em:
        running = em.running_sessions(jobs)
    assert set(running) == {DB_BACKUP, REPLICA, AGENT}  # SECOND is not one of the jobs; OTHER_SERVER_JOB is idle
    assert running[DB_BACKUP]["state"] == "Starting"    # the newest of two
    assert queries(em_server) == [("BackupJobSession", "State!=Stopped"), ("ReplicaJobSession", "State!=Stopped")]


def test_running_sessions_reads_every_page(em_server, make_em):
    em_server.on("GET", "/api/query", lambda call: sessions_query(
        session_xml(DB_BACKUP if call.params["page"] == ["1"] else SECOND, "Working", "2026-01-01T10:00:01Z"),
        page=int(call.params["page"][0]), pages=2))
    with make_em() as em:
        running = em.running_sessions([{"id": DB_BACKUP, "type": "backup"}, {"id": SECOND, "type": "backup"}])
    assert set(running) == {DB_BACKUP, SECOND} and len(queries(em_server)) == 2
