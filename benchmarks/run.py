#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Benchmarks of backupops.veeam against the hand-written ``ansible.builtin.uri`` playbook (issue 9).

``make bench`` runs this after building and installing the collection (``ANSIBLE_COLLECTIONS_PATH`` points at
the installed copy).  By hand, from the repository root::

    PYTHONPATH=tests .venv/bin/python benchmarks/run.py [--reps N] [--only one,many,detect,overhead,session]
                                                        [--api em,vbr,m365]
                                                        [--quick]

It starts its own emulator (``tests/emulator``) on free ports in a temporary directory, with the benchmark
scenario built below (realistic latencies for both sides: 50 ms per request, 300 ms more per logon, start tasks
that finish 3 s after the start), resets it before every run, runs every scenario several times (ours and the
baseline interleaved, so that a busy machine slows both alike), takes medians, prints a table and writes
everything to ``benchmarks/results/latest.json``.  Benchmarks are not tests: nothing here fails a build.

Scenarios (issue 9):

1. ``one``: one job, start and await its task: wall time, HTTP requests by route, logons; ours (the
   ``job_run`` role) against the baseline (``playbooks/baseline_one.yml``).
2. ``many``: 20 and 100 jobs in one play: wall time, requests and logons, and the growth per job.
3. ``detect``: detection latency, from the emulator marking a backup session finished to the module's result
   reaching Ansible, for jobs of 2 s, 30 s and 10 min (the long one on a sped-up clock).
4. ``overhead``: one ``veeam_task_info`` call against one ``ansible.builtin.uri`` call (the floor of what Ansible
   costs per task), plus the import time of each module.

VB365 (issue 15, ``--api m365``): ``session``, eight VB365 tasks in one play (``playbooks/m365_session.yml``)
with one login (``veeam_m365_session`` hands its token to the others) against a login per task, each with the
emulator's token quota at VB365's defaults (1 request a second, 5 a minute, 1500 an hour) and without it: the
play's wall time and its token requests.  Target: with the session and the quota, no slower than the play
without the quota (+10%).

The same scenarios 1 and 2 run against the emulator's Veeam Backup & Replication REST API (issue 13, ``--api vbr``):
the ``job_run`` role with ``job_run_api: vbr`` against ``playbooks/baseline_vbr_one.yml`` and
``baseline_vbr_many.yml`` (OAuth2 token, ``/api/v1/jobs/states``, start, the session polled until it has Stopped,
logout), on 100 VBR jobs whose sessions run 3 s, with the same latencies and the same targets.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import platform
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "benchmarks")
PLAYBOOKS = os.path.join(BENCH, "playbooks")
RESULTS = os.path.join(BENCH, "results")

USERNAME = "VEEAM\\bench-admin"
PASSWORD = "Bench#Adm1n-2026!"  # the emulator's own benchmark account, not a secret
#: The VBR account: the emulator's default VBR administrator (docs/emulator.md, "VBR"), not a secret.
VBR_USERNAME = "VEEAM\\ansible-vbr"
VBR_PASSWORD = "Vbr#Adm1n-Ans1ble-2026!y"
#: The x-api-version the VBR baseline sends (VBR 13.0.1; our side negotiates it, ``api_version: auto``).
VBR_REVISION = "1.3-rev1"
#: Simulated seconds a VBR session of a benchmark job runs (Starting 0.3 s, Working, Stopped 3 s after the start):
#: what a start task takes in Enterprise Manager, so that the VBR figures compare with EM's.
VBR_JOB_DURATION = 3
#: Realistic costs, the same for both sides.
REQUEST_MS = 50
LOGON_MS = 300
TASK_RUNNING = 2.5      # simulated seconds a start task stays Running ...
TASK_COLLECT = 0.5      # ... and then OperationFinished: Finished 3 s after the start
#: The baseline's pause between two polls of the task (until/retries/delay): the task takes about 3 s, so a user
#: who knows that polls every 3 s.  ``--delay`` changes it (see docs/performance.md for other values).
BASELINE_DELAY = 3
#: Detection latency: job lengths in simulated seconds, with the clock speed used for each.  The 10-minute job runs
#: at speed 12, so it lasts 50 s of wall time: long enough that the module's poller has grown its pause to the
#: full poll_interval (5 s, reached after 50 s), exactly as it has at the end of a real 10-minute job.
DETECT = ((2, 1.0), (30, 1.0), (600, 12.0))
#: Targets (issue 9).
TARGET_ONE_WALL = 0.8
TARGET_MANY_WALL = 0.1
TARGET_OVERHEAD = 1.0
#: Issue 15: eight VB365 tasks with one login under the token quota, at most 10 % slower than without the quota.
TARGET_SESSION = 1.1
#: The VB365 part of the emulator's default scenario (its account, jobs and token quota), read by m365_scenario().
DEFAULT_SCENARIO = os.path.join(ROOT, "tests", "emulator", "scenarios", "default.yml")
#: The sides of the VB365 session scenario: (name, one login, token quota on).
M365_SIDES = (("session", True, True), ("per_task", False, True), ("session_no_quota", True, False),
              ("per_task_no_quota", False, False))

_NS = uuid.UUID("0b3f6a52-9b1e-4c3a-8f00-5e1c0b3a9e00")


def bench_job_name(i):
    return "Bench Job %03d" % i


def vbr_job_name(i):
    return "Bench VBR Job %03d" % i


def vbr_scenario():
    """The ``vbr`` part of the scenario: the same latencies as Enterprise Manager (a token request costs what an EM
    logon costs), the default administrator, 100 backup jobs whose sessions run 3 s (``Bench VBR Job 001``..``100``)
    for scenarios 1 and 2, and a few jobs of other types, so that the job states list what a real server lists.
    Every job has one finished session from the day before."""
    repo = {"id": "88788f9e-d8f5-4eb4-bc4f-9b3f5403bcec", "name": "Default Backup Repository"}
    jobs = []
    for i in range(1, 101):
        jobs.append({"id": str(uuid.uuid5(_NS, "vbr-%03d" % i)), "name": vbr_job_name(i), "type": "VSphereBackup",
                     "objects": ["vm%03d" % i], "repository": repo["name"], "duration": VBR_JOB_DURATION,
                     "result": "Success", "history": [{"hours_ago": 24, "duration": 1800, "result": "Success"}]})
    others = (("Bench VBR Share %d", "FileBackup"), ("Bench VBR Agent %d", "LinuxAgentBackup"),
              ("Bench VBR Hyper-V %d", "HyperVBackup"))
    for pattern, kind in others:
        for i in (1, 2):
            name = pattern % i
            jobs.append({"id": str(uuid.uuid5(_NS, name)), "name": name, "type": kind, "repository": repo["name"],
                         "duration": 60, "history": [{"hours_ago": 24, "duration": 900, "result": "Success"}]})
    return {"request_latency_ms": REQUEST_MS, "token_latency_ms": LOGON_MS, "token_lifetime": 900,
            "users": [{"username": VBR_USERNAME, "password": VBR_PASSWORD, "role": "Backup Administrator"}],
            "repositories": [repo], "jobs": jobs}


def scenario():
    """The emulator scenario of the benchmarks: 100 backup jobs for scenarios 1 and 2, three jobs of 2 s, 30 s and
    10 min for the detection latency, and a few file share and agent jobs so that a lookup of every job type finds
    what a real Enterprise Manager would have.  Every job has one finished session from the day before.  The VBR
    listener has its own jobs (:func:`vbr_scenario`)."""
    servers = [{"id": "6b705844-2b2a-4b69-8bc0-1172e65ce82c", "name": "vbr01.lab.local", "version": "12.3.1.1139"},
               {"id": "406f0765-0bbf-45ff-b247-3b4e799aad65", "name": "vbr02.lab.local", "version": "13.0.1.1071"}]
    jobs = []
    for i in range(1, 101):
        jobs.append({"id": str(uuid.uuid5(_NS, "bench-%03d" % i)), "name": bench_job_name(i), "type": "Backup",
                     "backup_server": servers[i % 2]["name"], "duration": 60,
                     "history": [{"ago": 86400, "duration": 1800, "result": "Success"}]})
    for length, _speed in DETECT:
        name = detect_job_name(length)
        jobs.append({"id": str(uuid.uuid5(_NS, name)), "name": name, "type": "Backup",
                     "backup_server": servers[0]["name"], "duration": length,
                     "history": [{"ago": 86400, "duration": length, "result": "Success"}]})
    for i in (1, 2):
        jobs.append({"id": str(uuid.uuid5(_NS, "nas-%d" % i)), "name": "Bench Share %d" % i, "type": "Nas",
                     "backup_server": servers[0]["name"], "duration": 60, "objects": ["\\\\files0%d\\share" % i]})
        jobs.append({"id": str(uuid.uuid5(_NS, "agent-%d" % i)), "name": "Bench Agent %d" % i, "type": "Agent",
                     "platform": "AgentForWindows", "backup_server": servers[1]["name"], "duration": 60})
    return {
        "clock": {"speed": 1},
        "latency": {"request_ms": 0},
        "faults": [],
        "em": {"session_idle_timeout": 900, "request_latency_ms": REQUEST_MS, "logon_latency_ms": LOGON_MS,
               "task_duration": TASK_RUNNING, "task_collect_delay": TASK_COLLECT, "default_page_size": 100,
               "users": [{"username": USERNAME, "password": PASSWORD, "role": "Portal Administrator"}],
               "backup_servers": servers, "jobs": jobs},
        "vbr": vbr_scenario(),
        "m365": m365_scenario(),
    }


def m365_scenario():
    """The ``m365`` part of the scenario: the emulator's default VB365 (account, organizations, jobs, and the token
    quota at VB365's defaults), with the benchmarks' latencies (a token request as a logon)."""
    # PyYAML comes with ansible-core; only this scenario needs it.
    import yaml  # pylint: disable=import-outside-toplevel

    with open(DEFAULT_SCENARIO, encoding="utf-8") as handle:
        section = yaml.safe_load(handle)["m365"]
    section.update({"request_latency_ms": REQUEST_MS, "token_latency_ms": LOGON_MS})
    return section


def detect_job_name(length):
    return "Detect %s" % ("%d s" % length if length < 60 else "%d min" % (length // 60))


# ---------------------------------------------------------------------------------------------- the emulator

class Emulator:
    """The emulator in a subprocess, on free ports, in its own directory; its control endpoint over HTTPS."""

    def __init__(self, workdir, python):
        self.dir = os.path.join(workdir, "emulator")
        os.makedirs(self.dir)
        self.scenario_path = os.path.join(self.dir, "scenario.json")
        with open(self.scenario_path, "w", encoding="utf-8") as handle:
            json.dump(scenario(), handle)
        env = dict(os.environ, EMULATOR_DIR=self.dir, EMULATOR_EM_PORT="0", EMULATOR_M365_PORT="0",
                   EMULATOR_VBR_PORT="0", EMULATOR_SCENARIO=self.scenario_path, PYTHONPATH=os.path.join(ROOT, "tests"))
        self.log = open(os.path.join(self.dir, "emulator.log"), "wb")  # pylint: disable=consider-using-with
        self.proc = subprocess.Popen([python, "-m", "emulator"], cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        endpoints = os.path.join(self.dir, "endpoints.json")
        deadline = time.monotonic() + 60
        while not os.path.exists(endpoints) or not os.path.getsize(endpoints):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit("the emulator did not start; see %s" % self.log.name)
            time.sleep(0.1)
        time.sleep(0.1)
        with open(endpoints, encoding="utf-8") as handle:
            info = json.load(handle)
        parts = urllib.parse.urlsplit(info["em_url"])
        self.server = "%s://%s" % (parts.scheme, parts.netloc)
        self.api = info["em_url"]
        self.vbr_url = info.get("vbr_url")
        self.m365_url = info.get("m365_url")
        self.ca_path = info["ca_path"]
        user = (scenario()["m365"].get("users") or [{}])[0]
        self.m365_account = (user.get("username"), user.get("password"))
        self.ssl = ssl.create_default_context(cafile=self.ca_path)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def call(self, method, path, body=None, headers=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.server + path, data=data, method=method, headers=headers or {})
        with urllib.request.urlopen(req, context=self.ssl, timeout=60) as resp:
            raw = resp.read()
            return resp, (json.loads(raw.decode("utf-8-sig")) if raw.strip() else None)

    def control(self, method, name, body=None):
        return self.call(method, "/_emulator/" + name, body, {"Content-Type": "application/json"})[1]

    def reset(self, speed=None, jobs=None):
        self.control("POST", "reset")
        if speed is not None and speed != 1:
            self.control("POST", "clock", {"speed": speed})
        if jobs:
            self.control("POST", "config", {"jobs": jobs})

    def logon_and_start(self, job_name):
        """Log on and start a job the way the baseline does; (token, task id, task href), for scenario 4."""
        basic = base64.b64encode(("%s:%s" % (USERNAME, PASSWORD)).encode("utf-8")).decode("ascii")
        resp, _body = self.call("POST", "/api/sessionMngr/?v=latest", headers={"Authorization": "Basic " + basic,
                                                                               "Accept": "application/json"})
        token = resp.headers["X-RestSvcSessionId"]
        headers = {"X-RestSvcSessionId": token, "Accept": "application/json"}
        query = urllib.parse.quote('Name=="%s"' % job_name, safe="")
        _resp, found = self.call("GET", "/api/query?type=Job&format=Entities&filter=" + query, headers=headers)
        job = found["Entities"]["Jobs"]["Jobs"][0]
        start = next(link["Href"] for link in job["Links"] if link["Rel"] == "Start")
        _resp, task = self.call("POST", urllib.parse.urlsplit(start).path + "?action=start", headers=headers)
        return token, task["TaskId"], task["Href"]


# ---------------------------------------------------------------------------------------------- ansible runs

class Ansible:
    """Runs a benchmark playbook with its own HOME, temp dirs and the bench_timer callback."""

    def __init__(self, workdir, python, emulator):
        self.workdir = workdir
        self.python = python
        self.emu = emulator
        self.playbook_bin = os.path.join(os.path.dirname(python), "ansible-playbook")
        if not os.path.exists(self.playbook_bin):
            self.playbook_bin = shutil.which("ansible-playbook") or "ansible-playbook"
        home = os.path.join(workdir, "home")
        os.makedirs(home)
        self.timer_file = os.path.join(workdir, "timer.json")
        self.env = dict(os.environ)
        self.env.update({
            "HOME": home,
            "ANSIBLE_LOCAL_TEMP": os.path.join(workdir, "ansible-local"),
            "ANSIBLE_REMOTE_TEMP": os.path.join(workdir, "ansible-remote"),
            "ANSIBLE_CALLBACK_PLUGINS": os.path.join(BENCH, "callback_plugins"),
            "ANSIBLE_CALLBACKS_ENABLED": "bench_timer",
            "BENCH_TIMER_FILE": self.timer_file,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        })
        self.env.pop("ANSIBLE_CONFIG", None)
        self.base_vars = {
            "ansible_python_interpreter": python,
            "bench_em_url": emulator.api,
            "bench_em_server": emulator.server,
            "bench_ca_path": emulator.ca_path,
            "bench_username": USERNAME,
            "bench_password": PASSWORD,
            "bench_vbr_url": emulator.vbr_url,
            "bench_vbr_username": VBR_USERNAME,
            "bench_vbr_password": VBR_PASSWORD,
            "bench_vbr_revision": VBR_REVISION,
            "bench_m365_url": emulator.m365_url,
            "bench_m365_username": emulator.m365_account[0],
            "bench_m365_password": emulator.m365_account[1],
        }
        self.runs = 0

    def run(self, playbook, extra):
        """Run one playbook; its wall time, the timer callback's record and whether it succeeded."""
        self.runs += 1
        varfile = os.path.join(self.workdir, "vars-%d.json" % self.runs)
        with open(varfile, "w", encoding="utf-8") as handle:
            json.dump(dict(self.base_vars, **extra), handle)
        if os.path.exists(self.timer_file):
            os.remove(self.timer_file)
        cmd = [self.playbook_bin, "-i", "localhost,", "-c", "local", os.path.join(PLAYBOOKS, playbook),
               "-e", "@" + varfile]
        load = os.getloadavg()[0]
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=self.workdir, env=self.env, capture_output=True, text=True, check=False)
        wall = time.monotonic() - started
        os.remove(varfile)
        timer = {}
        if os.path.exists(self.timer_file):
            with open(self.timer_file, encoding="utf-8") as handle:
                timer = json.load(handle)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-25:])
            print("!! %s failed (rc %d):\n%s" % (playbook, proc.returncode, tail), file=sys.stderr)
        return {"wall": wall, "ok": proc.returncode == 0, "timer": timer,
                "load": [round(load, 2), round(os.getloadavg()[0], 2)]}


def emulator_counts(emu, api="em"):
    """The requests of the run by route, and its logons (VBR: password grants), logoffs (logouts), what was left
    open, and the jobs started."""
    counters = emu.control("GET", "counters")
    routes = counters["requests"].get(api) or {}
    own = counters[api]
    if api == "vbr":
        logons, logoffs, still_open = own["tokens_issued"], own["logouts"], own["open_tokens"]
    else:
        logons, logoffs, still_open = own["logons"], own["logoffs"], own["open_sessions"]
    return {"requests": sum(routes.values()), "routes": routes, "logons": logons, "logoffs": logoffs,
            "open_sessions": still_open, "starts": sum((own.get("starts") or {}).values())}


_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def timeline(emu, api, run):
    """Where the time of a run went: the emulator's request log of the run cut into stretches of the same route
    (``[route, requests, from, to, server]``: seconds since the play started, ``from`` the first request's arrival,
    ``server`` the seconds the emulator spent answering them, its latency included), and each task's start and end
    (``[name, from, to]``)."""
    timer = run.get("timer") or {}
    origin = timer.get("play_start")
    if not origin:
        return None
    stretches = []
    for entry in emu.control("GET", "log?api=%s&limit=1000" % api):
        route = "%s %s" % (entry["method"], _GUID.sub("{id}", entry["path"]))
        if "nameFilter=" in (entry.get("query") or ""):
            route += "?nameFilter"
        began, ended = entry["time"] - entry["ms"] / 1000.0 - origin, entry["time"] - origin
        if stretches and stretches[-1][0] == route:
            stretches[-1][1] += 1
            stretches[-1][3] = round(ended, 2)
            stretches[-1][4] = round(stretches[-1][4] + entry["ms"] / 1000.0, 3)
        else:
            stretches.append([route, 1, round(began, 2), round(ended, 2), round(entry["ms"] / 1000.0, 3)])
    tasks = [[t["name"], round(t["start"] - origin, 2), round(t["end"] - origin, 2) if t["end"] else None]
             for t in timer.get("tasks", [])]
    return {"requests": stretches, "tasks": tasks, "play_end": round(timer["end"] - origin, 2) if timer.get("end")
            else None}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarise(runs):
    """Medians of the runs of one side of one scenario (routes: the counts of the median run)."""
    walls = [r["wall"] for r in runs]
    mid = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]
    out = {"runs": len(runs), "ok": all(r["ok"] for r in runs), "wall": median(walls), "wall_min": min(walls),
           "wall_max": max(walls), "walls": [round(w, 2) for w in walls],
           "requests": median([r["requests"] for r in runs]), "logons": max(r["logons"] for r in runs),
           "routes": mid["routes"], "starts": median([r.get("starts") for r in runs]),
           "left_open": max(r.get("open_sessions") or 0 for r in runs),
           "loads": [r["load"] for r in runs if r.get("load")]}
    if mid.get("timeline"):
        out["timeline"] = mid["timeline"]
    return out


# ---------------------------------------------------------------------------------------------- scenarios

#: The playbooks of scenarios 1 and 2 per API, and the names of their jobs.  Scenario 1's sides: (side, playbook,
#: extra variables); the baseline's delay is added to the baseline's.
PLAYS = {
    "em": {"one": (("baseline", "baseline_one.yml", {}), ("ours", "ours_one.yml", {}),
                   ("ours_typed", "ours_one.yml", {"bench_job_type": "backup"})),
           "baseline_one": "baseline_one.yml", "baseline_many": "baseline_many.yml", "ours_many": "ours_many.yml",
           "job_name": bench_job_name},
    "vbr": {"one": (("baseline", "baseline_vbr_one.yml", {}), ("ours", "ours_vbr_one.yml", {})),
            "baseline_one": "baseline_vbr_one.yml", "baseline_many": "baseline_vbr_many.yml",
            "ours_many": "ours_vbr_many.yml", "job_name": vbr_job_name},
}


def pair_ratio(ours, baseline):
    """The median of ours / baseline over the runs made in the same turn (a load that changes between turns moves
    both sides of a pair alike), or None without pairs."""
    return median([o["wall"] / b["wall"] for o, b in zip(ours, baseline)])


def measured(ans, emu, api, playbook, extra):
    """Run one playbook on a reset emulator: its wall time, the emulator's counts and the run's timeline."""
    emu.reset()
    run = ans.run(playbook, extra)
    run.update(emulator_counts(emu, api))
    run["timeline"] = timeline(emu, api, run)
    return run


def scenario_one(ans, emu, reps, delay, sensitivity=(), api="em"):
    """Ours as documented, (EM) ours told the job's type like the baseline's query is, the baseline; then the
    baseline with each other ``sensitivity`` delay (how its cost moves with the delay it polls with)."""
    plays = [(side, playbook, dict(extra, bench_delay=delay) if side == "baseline" else extra)
             for side, playbook, extra in PLAYS[api]["one"]]
    plays += [("delay %s" % other, PLAYS[api]["baseline_one"], {"bench_delay": other}) for other in sensitivity]
    sides = {side: [] for side, _playbook, _extra in plays}
    for _rep in range(reps):
        for side, playbook, extra in plays:
            run = measured(ans, emu, api, playbook, dict(extra, bench_job_name=PLAYS[api]["job_name"](1)))
            sides[side].append(run)
    out = {side: summarise(sides[side]) for side, _playbook, _extra in PLAYS[api]["one"]}
    out["api"] = api
    out["baseline_delay"] = delay
    out["sensitivity"] = {str(other): summarise(sides["delay %s" % other]) for other in sensitivity}
    out["wall_ratio"] = out["ours"]["wall"] / out["baseline"]["wall"]
    out["pair_ratio"] = pair_ratio(sides["ours"], sides["baseline"])
    out["targets"] = {
        "requests": {"target": "ours <= baseline", "ours": out["ours"]["requests"],
                     "baseline": out["baseline"]["requests"],
                     "met": out["ours"]["requests"] <= out["baseline"]["requests"]},
        "wall": {"target": "ours <= %.1f x baseline" % TARGET_ONE_WALL, "ratio": round(out["wall_ratio"], 3),
                 "met": out["wall_ratio"] <= TARGET_ONE_WALL},
    }
    return out


def scenario_many(ans, emu, sizes, reps, baseline_reps, delay, api="em"):
    out = {"sizes": {}, "baseline_delay": delay, "api": api}
    for size in sizes:
        names = [PLAYS[api]["job_name"](i) for i in range(1, size + 1)]
        sides = {"ours": [], "baseline": []}
        breps = baseline_reps.get(size, reps)
        for rep in range(max(reps, breps)):
            plays = [("baseline", PLAYS[api]["baseline_many"])] if rep < breps else []
            plays += [("ours", PLAYS[api]["ours_many"])] if rep < reps else []
            for side, playbook in plays:
                run = measured(ans, emu, api, playbook, {"bench_jobs": names, "bench_job_specs": [
                    {"job_name": n} for n in names], "bench_delay": delay})
                sides[side].append(run)
        entry = {side: summarise(runs) for side, runs in sides.items() if runs}
        entry["wall_ratio"] = entry["ours"]["wall"] / entry["baseline"]["wall"] if "baseline" in entry else None
        entry["pair_ratio"] = pair_ratio(sides["ours"], sides["baseline"])
        out["sizes"][str(size)] = entry
    if len(sizes) >= 2:
        small, large = out["sizes"][str(min(sizes))], out["sizes"][str(max(sizes))]
        span = max(sizes) - min(sizes)
        out["growth_per_job"] = {side: (large[side]["wall"] - small[side]["wall"]) / span
                                 for side in ("ours", "baseline") if side in large and side in small}
    top = out["sizes"][str(max(sizes))]
    ratio = top["wall_ratio"]
    out["targets"] = {
        "wall": {"target": "ours <= %.1f x baseline at %d jobs" % (TARGET_MANY_WALL, max(sizes)),
                 "ratio": None if ratio is None else round(ratio, 3), "met": ratio is not None and ratio <= TARGET_MANY_WALL},
        "logons": {"target": "at most one logon per role run", "ours": max(e["ours"]["logons"]
                                                                           for e in out["sizes"].values()),
                   "met": all(e["ours"]["logons"] <= 1 for e in out["sizes"].values())},
    }
    return out


def scenario_session(ans, emu, reps):
    """Issue 15: ``playbooks/m365_session.yml`` on each side of :data:`M365_SIDES`, in turns; medians of the wall
    time, and the token requests of the median run (password grants, refreshes, throttled answers)."""
    runs = {name: [] for name, _session, _quota in M365_SIDES}
    for rep in range(reps):
        for name, session, quota in M365_SIDES:
            emu.reset()
            if not quota:
                emu.control("POST", "config", {"m365": {"throttle_token": None}})
            run = ans.run("m365_session.yml", {"bench_m365_session": session})
            own = emu.control("GET", "counters")["m365"]
            run.update({"logins": own["tokens_issued"], "refreshes": own["token_refreshes"],
                        "throttled": own["throttled"], "open_tokens": own["open_tokens"]})
            runs[name].append(run)
            print("   run %d %-18s %6.2f s  logins %d, throttled %d%s" % (
                rep + 1, name, run["wall"], run["logins"], run["throttled"], "" if run["ok"] else "  FAILED"),
                flush=True)
    out = {}
    for name, side in runs.items():
        walls = [r["wall"] for r in side]
        mid = sorted(side, key=lambda r: r["wall"])[len(side) // 2]
        out[name] = {"wall": median(walls), "min": min(walls), "max": max(walls), "ok": all(r["ok"] for r in side),
                     "logins": mid["logins"], "refreshes": mid["refreshes"], "throttled": mid["throttled"],
                     "open_tokens": mid["open_tokens"], "runs": side}
    baseline = out["per_task_no_quota"]["wall"]
    ratio = out["session"]["wall"] / baseline if baseline else None
    out["targets"] = {"session": {"ratio": ratio, "target": TARGET_SESSION,
                                  "met": ratio is not None and ratio <= TARGET_SESSION and out["session"]["logins"] == 1}}
    return out


def report_session(add, session):
    add("")
    add("VB365 session (issue 15): eight VB365 tasks in one play; token quota 1/s, 5/min, 1500/h (VB365's defaults)")
    add("   %-27s %8s %14s %7s %10s %5s" % ("side", "wall s", "range", "logins", "throttled", "ok"))
    titles = {"session": "one login, quota", "per_task": "a login per task, quota",
              "session_no_quota": "one login, no quota", "per_task_no_quota": "a login per task, no quota"}
    for name, _session, _quota in M365_SIDES:
        e = session[name]
        spread = "%s to %s" % (fmt(e["min"]), fmt(e["max"]))
        ok = "yes" if e["ok"] else "NO"
        add("   %-27s %8s %14s %7d %10d %5s" % (titles[name], fmt(e["wall"]), spread, e["logins"], e["throttled"], ok))
    t = session["targets"]["session"]
    add("   one login with the quota / a login per task without it: %sx (target <= %.1fx and one login: %s)"
        % (fmt(t["ratio"]), t["target"], yes(t["met"])))


def first_poll_after(log, when, path_part):
    for entry in log:
        if entry["time"] >= when and path_part in entry["path"]:
            return entry["time"]
    return None


def scenario_detect(ans, emu, reps):
    out = {"jobs": {}}
    for length, speed in DETECT:
        name = detect_job_name(length)
        wall_length = length / speed
        target = max(1.0, 0.1 * length)          # seconds of real time, for a real job of that length
        window = max(1.0, 0.1 * wall_length)     # the job ends spread over one such window: its phase against the
        runs = []                                 # module's polls differs from run to run
        for rep in range(reps):
            duration = length + (rep / reps) * window * speed
            emu.reset(speed=speed, jobs={name: {"duration": duration}})
            run = ans.run("ours_one.yml", {"bench_job_name": name, "bench_wait_for": "session"})
            state = emu.control("GET", "state")
            job = next(j for j in state["em"]["jobs"] if j["name"] == name)
            ended = (job.get("last_session") or {}).get("ended_at")
            module = [t for t in run["timer"].get("tasks", []) if t["action"] == "backupops.veeam.veeam_em_job_start"]
            returned = module[-1]["end"] if module else None
            log = emu.control("GET", "log?api=em")
            seen = first_poll_after(log, ended, "backupSessions") if ended else None
            runs.append({"ok": run["ok"], "wall": run["wall"], "duration": duration,
                         "latency": (returned - ended) if ended and returned else None,
                         "poll_lag": (seen - ended) if ended and seen else None,
                         "return_lag": (returned - seen) if seen and returned else None,
                         "requests": emulator_counts(emu)["requests"]})
        latencies = [r["latency"] for r in runs if r["latency"] is not None]
        entry = {"length": length, "speed": speed, "wall_length": wall_length, "runs": runs,
                 "latency": median(latencies), "latency_max": max(latencies) if latencies else None,
                 "poll_lag": median([r["poll_lag"] for r in runs]), "return_lag": median([r["return_lag"] for r in runs]),
                 "requests": median([r["requests"] for r in runs]), "target": target}
        entry["met"] = entry["latency"] is not None and entry["latency"] <= target
        out["jobs"][name] = entry
    out["targets"] = {"latency": {"target": "median latency <= max(1 s, 10% of the job's length)",
                                  "met": all(e["met"] for e in out["jobs"].values())}}
    return out


def import_times(python, collections):
    """Cumulative import time (ms) of what each module imports, measured with ``python -X importtime``."""
    modules = {
        "ansible.builtin.uri": "ansible.modules.uri",
        "veeam_task_info": "ansible_collections.backupops.veeam.plugins.modules.veeam_task_info",
        "veeam_em_job_start": "ansible_collections.backupops.veeam.plugins.modules.veeam_em_job_start",
    }
    out = {}
    env = dict(os.environ, PYTHONPATH=collections.split(os.pathsep)[0])
    for label, module in modules.items():
        samples = []
        for _sample in range(3):
            proc = subprocess.run([python, "-X", "importtime", "-c", "import %s" % module], env=env,
                                  capture_output=True, text=True, check=False)
            total = None
            for line in proc.stderr.splitlines():
                parts = [p.strip() for p in line.split("|")]
                if len(parts) == 3 and parts[2].strip() == module:
                    total = int(parts[1]) / 1000.0
            samples.append(total)
        out[label] = median(samples)
    return out


def scenario_overhead(ans, emu, reps):
    """``playbooks/overhead.yml`` calls ansible.builtin.uri and veeam_task_info in turns; each task is timed from
    its start to its result reaching Ansible.  Medians over every call of every run, and of the pairs' ratios."""
    per_call = {"ansible.builtin.uri": [], "backupops.veeam.veeam_task_info": []}
    ratios, ok = [], True
    for _rep in range(reps):
        emu.reset()
        token, task_id, href = emu.logon_and_start(bench_job_name(1))
        run = ans.run("overhead.yml", {"bench_token": token, "bench_task_id": task_id, "bench_task_href": href})
        ok = ok and run["ok"]
        last_uri = None
        for task in run["timer"].get("tasks", []):
            if task["action"] not in per_call or not task["end"]:
                continue
            took = task["end"] - task["start"]
            per_call[task["action"]].append(took)
            if task["action"] == "ansible.builtin.uri":
                last_uri = took
            elif last_uri:
                ratios.append(took / last_uri)
    uri, ours = median(per_call["ansible.builtin.uri"]), median(per_call["backupops.veeam.veeam_task_info"])
    out = {"uri": {"per_call": uri, "calls": len(per_call["ansible.builtin.uri"])},
           "veeam_task_info": {"per_call": ours, "calls": len(per_call["backupops.veeam.veeam_task_info"])},
           "runs": reps, "ok": ok, "ratio": ours / uri if ours and uri else None,
           "pair_ratio": median(ratios)}
    out["targets"] = {"overhead": {"target": "veeam_task_info <= %.1f x uri" % TARGET_OVERHEAD,
                                   "ratio": None if out["ratio"] is None else round(out["ratio"], 3),
                                   "met": out["ratio"] is not None and out["ratio"] <= TARGET_OVERHEAD}}
    return out


# ---------------------------------------------------------------------------------------------- report

def fmt(value, digits=2):
    return "-" if value is None else ("%.*f" % (digits, value))


def yes(met):
    return "met" if met else "MISSED"


def report_one(add, one, title):
    add("")
    add("%s (median of %d; baseline delay %s s)" % (title, one["ours"]["runs"], one["baseline_delay"]))
    add("   %-10s %8s %9s %7s  %s" % ("side", "wall s", "requests", "logons", "requests by route"))
    for side in [side for side in ("ours", "ours_typed", "baseline") if side in one]:
        s = one[side]
        routes = ", ".join("%s %d" % (k, v) for k, v in sorted(s["routes"].items()))
        add("   %-10s %8s %9s %7s  %s" % (side, fmt(s["wall"]), fmt(s["requests"], 0), s["logons"], routes))
    for other, s in sorted(one.get("sensitivity", {}).items(), key=lambda kv: float(kv[0])):
        add("   %-10s %8s %9s %7s  (the baseline with delay %s s)" % (
            "baseline", fmt(s["wall"]), fmt(s["requests"], 0), s["logons"], other))
    t = one["targets"]
    add("   target: requests ours <= baseline: %s (%s vs %s); wall <= %.1fx: %s (%.2fx; median of the turns' ratios "
        "%sx)" % (yes(t["requests"]["met"]), fmt(t["requests"]["ours"], 0), fmt(t["requests"]["baseline"], 0),
                  TARGET_ONE_WALL, yes(t["wall"]["met"]), one["wall_ratio"], fmt(one.get("pair_ratio"))))


def report_many(add, many, title):
    add("")
    add("%s (medians; baseline delay %s s)" % (title, many["baseline_delay"]))
    add("   %5s  %-9s %5s %8s %9s %7s %7s  %s" % (
        "jobs", "side", "runs", "wall s", "requests", "logons", "ratio", "load (1 min) during the runs"))
    for size, entry in sorted(many["sizes"].items(), key=lambda kv: int(kv[0])):
        for side in [side for side in ("ours", "baseline") if side in entry]:
            s = entry[side]
            ratio = fmt(entry["wall_ratio"]) if side == "ours" else ""
            loads = [x for pair in s.get("loads", []) for x in pair]
            add("   %5s  %-9s %5d %8s %9s %7s %7s  %s"
                % (size, side, s["runs"], fmt(s["wall"]), fmt(s["requests"], 0), s["logons"], ratio,
                   "%.1f to %.1f" % (min(loads), max(loads)) if loads else "-"))
    if "growth_per_job" in many:
        growth = many["growth_per_job"]
        add("   growth per added job: ours %s s, baseline %s s"
            % (fmt(growth.get("ours"), 3), fmt(growth.get("baseline"), 3)))
    t = many["targets"]
    top = many["sizes"][max(many["sizes"], key=int)]
    add("   target: wall <= %.1fx at the largest size: %s (%sx; median of the turns' ratios %sx); at most one logon "
        "per role run: %s" % (TARGET_MANY_WALL, yes(t["wall"]["met"]), fmt(t["wall"]["ratio"], 3),
                              fmt(top.get("pair_ratio"), 3), yes(t["logons"]["met"])))


def report(results):
    lines = []
    add = lines.append
    env = results["environment"]
    add("backupops.veeam benchmarks, %s, commit %s, %d CPUs, load %s -> %s" % (
        env["date"], env["commit"], env["cpus"], env["load_before"], env["load_after"]))
    add("emulator: %d ms per request, +%d ms per logon, start tasks Finished %.1f s after the start" % (
        REQUEST_MS, LOGON_MS, TASK_RUNNING + TASK_COLLECT))
    one = results.get("one")
    if one:
        report_one(add, one, "1. One job, start and await its task")
    many = results.get("many")
    if many:
        report_many(add, many, "2. Several jobs in one play")
    detect = results.get("detect")
    if detect:
        add("")
        add("3. Detection latency, session end to the module's result (wait_for: session; median and max)")
        add("   %-14s %6s %7s %9s %9s %9s %9s %8s"
            % ("job", "speed", "wall s", "latency", "max", "poll lag", "return", "target"))
        for name, e in detect["jobs"].items():
            add("   %-14s %6s %7s %9s %9s %9s %9s %8s  %s" % (name, fmt(e["speed"], 0), fmt(e["wall_length"], 0),
                                                              fmt(e["latency"]), fmt(e["latency_max"]),
                                                              fmt(e["poll_lag"]), fmt(e["return_lag"]),
                                                              fmt(e["target"], 0), yes(e["met"])))
    vbr = results.get("vbr") or {}
    if vbr:
        add("")
        add("Veeam Backup & Replication REST API (x-api-version %s; sessions Stopped %d s after the start; the same "
            "latencies, a token request as a logon)" % (VBR_REVISION, VBR_JOB_DURATION))
    if vbr.get("one"):
        report_one(add, vbr["one"], "VBR 1. One job, start and await its session")
    if vbr.get("many"):
        report_many(add, vbr["many"], "VBR 2. Several jobs in one play")
    if results.get("m365_session"):
        report_session(add, results["m365_session"])
    overhead = results.get("overhead")
    if overhead:
        add("")
        add("4. Per-task overhead, one call (medians of %d calls each, in turns, over %d runs)"
            % (overhead["uri"]["calls"], overhead["runs"]))
        add("   ansible.builtin.uri %s s, veeam_task_info %s s: %sx, median of the pairs %sx (target <= %.1fx: %s)" % (
            fmt(overhead["uri"]["per_call"], 3), fmt(overhead["veeam_task_info"]["per_call"], 3),
            fmt(overhead["ratio"]), fmt(overhead["pair_ratio"]), TARGET_OVERHEAD,
            yes(overhead["targets"]["overhead"]["met"])))
        if overhead.get("import_ms"):
            add("   import time (python -X importtime, ms): " + ", ".join(
                "%s %s" % (k, fmt(v, 0)) for k, v in overhead["import_ms"].items()))
    return "\n".join(lines)


def environment(python):
    def out(cmd):
        try:
            return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": out(["git", "rev-parse", "--short", "HEAD"]),
        "dirty": bool(out(["git", "status", "--porcelain", "--untracked-files=no"])),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "ansible_core": out([python, "-c", "import ansible.release; print(ansible.release.__version__)"]),
        "load_before": " ".join("%.2f" % x for x in os.getloadavg()),
    }


def _number(text):
    """``3`` for "3" or 3.0 (as the playbooks show it), ``1.5`` for "1.5"."""
    value = float(text)
    return int(value) if value.is_integer() else value


def run_em(args, ans, emu, only, sizes, baseline_reps, delay, sensitivity, results):
    """The Enterprise Manager scenarios (issue 9)."""
    collections = os.environ.get("ANSIBLE_COLLECTIONS_PATH")
    if "one" in only:
        print("== 1. one job (%d runs per side)" % args.reps, flush=True)
        results["one"] = scenario_one(ans, emu, args.reps, delay, sensitivity)
    if "many" in only:
        print("== 2. %s jobs (%d runs of ours; baseline runs %s)" % (
            " and ".join(map(str, sizes)), args.many_reps, args.baseline_reps), flush=True)
        results["many"] = scenario_many(ans, emu, sizes, args.many_reps, baseline_reps, delay)
    if "detect" in only:
        print("== 3. detection latency (%d runs per job length)" % args.detect_reps, flush=True)
        results["detect"] = scenario_detect(ans, emu, args.detect_reps)
    if "overhead" in only:
        print("== 4. per-task overhead (%d runs of 10 calls per side, in turns)" % args.overhead_reps, flush=True)
        results["overhead"] = scenario_overhead(ans, emu, args.overhead_reps)
        results["overhead"]["import_ms"] = import_times(ans.python, collections)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="one,many,detect,overhead,session",
                        help="comma-separated scenarios: one, many, detect, overhead, session (default: all)")
    parser.add_argument("--api", default="em,vbr,m365",
                        help="comma-separated APIs: em (every scenario), vbr (scenarios one and many), m365 (the "
                             "session scenario); default all three")
    parser.add_argument("--reps", type=int, default=3, help="runs per side of scenario 1 (default 3)")
    parser.add_argument("--many-reps", type=int, default=3, help="runs of our side of scenario 2 (default 3)")
    parser.add_argument("--baseline-reps", default="20=2,100=1",
                        help="runs of the baseline of scenario 2 per job count, which take minutes (default 20=2,100=1)")
    parser.add_argument("--sensitivity", default="",
                        help="other baseline delays for scenario 1, e.g. 1,2,5 (default none)")
    parser.add_argument("--detect-reps", type=int, default=3, help="runs per job length of scenario 3 (default 3)")
    parser.add_argument("--overhead-reps", type=int, default=3, help="runs per side of scenario 4 (default 3)")
    parser.add_argument("--sizes", default="20,100", help="job counts of scenario 2 (default 20,100)")
    parser.add_argument("--delay", type=float, default=BASELINE_DELAY,
                        help="the baseline's delay between polls, seconds (default %s)" % BASELINE_DELAY)
    parser.add_argument("--quick", action="store_true", help="fewer runs, 5 and 20 jobs: a smoke test of the runner")
    parser.add_argument("--output", default=os.path.join(RESULTS, "latest.json"), help="where to write the JSON")
    parser.add_argument("--write-scenario", metavar="FILE",
                        help="write the emulator scenario of the benchmarks to FILE (JSON) and exit")
    args = parser.parse_args(argv)
    if args.write_scenario:
        with open(args.write_scenario, "w", encoding="utf-8") as handle:
            json.dump(scenario(), handle, indent=1)
        return 0
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    apis = {a.strip() for a in args.api.split(",") if a.strip()}
    if not apis <= set(PLAYS) | {"m365"}:
        parser.error("--api takes em, vbr and/or m365, not %s" % ", ".join(sorted(apis - set(PLAYS) - {"m365"})))
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.quick:
        args.reps = args.many_reps = args.overhead_reps = 1
        args.detect_reps, sizes, args.baseline_reps = 1, [5, 20], "5=1,20=1"
    delay = _number(args.delay)
    sensitivity = [_number(d) for d in args.sensitivity.split(",") if d.strip()]
    baseline_reps = {int(k): int(v) for k, v in (item.split("=") for item in args.baseline_reps.split(",") if item)}
    python = sys.executable
    collections = os.environ.get("ANSIBLE_COLLECTIONS_PATH")
    manifest = os.path.join((collections or "").split(os.pathsep)[0], "ansible_collections", "backupops", "veeam",
                            "MANIFEST.json")
    if not collections or not os.path.exists(manifest):
        raise SystemExit("ANSIBLE_COLLECTIONS_PATH must point at an installed backupops.veeam (run `make bench`, "
                         "which builds and installs it)")
    workdir = tempfile.mkdtemp(prefix="veeam-bench-")
    results = {"environment": environment(python), "settings": {
        "request_ms": REQUEST_MS, "logon_ms": LOGON_MS, "task_finished_after": TASK_RUNNING + TASK_COLLECT,
        "baseline_delay": delay, "collections": collections, "vbr_revision": VBR_REVISION,
        "vbr_session_seconds": VBR_JOB_DURATION}}
    started = time.monotonic()
    emu = Emulator(workdir, python)
    try:
        ans = Ansible(workdir, python, emu)
        print("== benchmarks: emulator at %s, work dir %s" % (emu.server, workdir), flush=True)
        if "em" in apis:
            run_em(args, ans, emu, only, sizes, baseline_reps, delay, sensitivity, results)
        if "vbr" in apis and ({"one", "many"} & only):
            if not emu.vbr_url:
                raise SystemExit("the emulator serves no VBR API (endpoints.json has no vbr_url)")
            results["vbr"] = {}
            if "one" in only:
                print("== VBR 1. one job (%d runs per side)" % args.reps, flush=True)
                results["vbr"]["one"] = scenario_one(ans, emu, args.reps, delay, sensitivity, api="vbr")
            if "many" in only:
                print("== VBR 2. %s jobs (%d runs of ours; baseline runs %s)" % (
                    " and ".join(map(str, sizes)), args.many_reps, args.baseline_reps), flush=True)
                results["vbr"]["many"] = scenario_many(ans, emu, sizes, args.many_reps, baseline_reps, delay,
                                                       api="vbr")
        if "m365" in apis and "session" in only:
            print("== VB365 session: eight tasks, one login or eight, with and without the token quota (%d runs "
                  "per side)" % args.reps, flush=True)
            results["m365_session"] = scenario_session(ans, emu, args.reps)
    finally:
        emu.stop()
    results["environment"]["load_after"] = " ".join("%.2f" % x for x in os.getloadavg())
    results["environment"]["duration_s"] = round(time.monotonic() - started, 1)
    shutil.rmtree(workdir, ignore_errors=True)
    text = report(results)
    print()
    print(text)
    print("\n(%.0f s in all)" % results["environment"]["duration_s"])
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1, sort_keys=True)
    print("== figures written to %s" % os.path.relpath(args.output, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
