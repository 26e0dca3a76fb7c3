# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""An in-memory job adapter for the job lifecycle: fake jobs on a fake server, with scripted answers to actions
(taken, lost, refused), scripted runs, and a record of what the lifecycle asked.  No network: the lost-answer
settling uses a real Transport's ``look_after_lost``, which sends nothing."""

from __future__ import annotations

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils._http import RetryPolicy, Transport
from ansible_collections.backupops.veeam.plugins.module_utils._jobs import JobAdapter, Outcome

#: States that end a fake run.
ENDS = ("success", "warning", "failed", "stopped", "notconfigured", "disconnected", "refused")
#: What each action makes of a job on the fake server.
EFFECTS = {"start": {"running": True}, "retry": {"running": True}, "stop": {"running": False},
           "enable": {"enabled": True}, "disable": {"enabled": False}}


# ------------------------------------------------------------------------------------------------ the fake API
def fake_job(name, running=False, enabled=True, failed_last=False, runs=None, send=None, looks=None, reason=None,
             label=None, stopping=False):
    """A job of the fake server.

    ``runs``: the run scripts, one per watch (the last repeats): a list of states, one per poll, the first being
    what the action answered; a state that is an exception is raised by that poll (the last one repeats).
    ``stopping``: the running job is being stopped already.  ``send``: what each send does, in order (the last repeats): ``"ok"`` (takes effect),
    ``("lost", took, timed_out)`` (takes effect or not, and the answer is lost), ``("refuse", error, meanwhile)``
    (the error; ``meanwhile``: another operator brought the job into the state first).  ``looks``: whether each look
    after a lost answer sees the action (the last repeats; default: whether it took effect).
    """
    return {"id": "id-" + name.lower().replace(" ", "-"), "name": name, "running": running, "enabled": enabled,
            "failed_last": failed_last, "runs": list(runs or [["Working", "Success"]]), "send": list(send or ["ok"]),
            "looks": list(looks) if looks is not None else None, "reason": reason, "label": label,
            "stopping": stopping}


def _next(items):
    return items.pop(0) if len(items) > 1 else items[0]


class FakeJobs(JobAdapter):
    """An adapter over a dict of fake jobs; it records what the lifecycle asked of it."""

    product = "Fake"

    def __init__(self, jobs, timeout=3, clock=None):
        sleep = clock.sleep if clock is not None else (lambda seconds: None)
        transport = Transport("https://fake.example:1", timeout=timeout, retry=RetryPolicy(sleep=sleep))
        super().__init__(type("Client", (), {"t": transport})())
        self.server = {job["name"]: job for job in jobs}
        self.sent = []        # (job name, action) of every send
        self.looked = []      # job names of every look
        self.polled = []      # job names of every progress
        self.surveys = []     # (job names, action, acting) of every survey
        self.concluded = []
        self.watched = []
        self.kept = {}        # job name -> the state of the watch the lifecycle kept on a timeout
        self.meanwhile = {}   # job name -> the state another operator puts it in when its run ends refused

    # finding
    def find(self, wanted):
        jobs = []
        for want in wanted:
            key = want.get("job_name") or next((n for n, j in self.server.items() if j["id"] == want.get("job_id")),
                                               None)
            if key not in self.server:
                raise E.NotFoundError("No fake job named %r" % (want.get("job_name") or want.get("job_id")))
            jobs.append({"id": self.server[key]["id"], "name": key})
        return jobs

    # state
    def survey(self, runs, action, acting):
        self.surveys.append(([run.name for run in runs], action, acting))
        for run in runs:
            run.current = dict(self.server[run.name])

    def running(self, run):
        return run.current["running"]

    def enabled(self, run):
        return run.current["enabled"]

    def failed_last(self, run):
        return run.current["failed_last"]

    def stopping(self, run):
        return run.current["stopping"]

    def running_label(self, run):
        return run.current["label"]

    def idle_label(self, run):
        return "last result %s" % ("Failed" if run.current["failed_last"] else "Success")

    # acting
    def send(self, run, action):
        self.sent.append((run.name, action))
        job = self.server[run.name]
        what = _next(job["send"])
        if what == "ok":
            job.update(EFFECTS[action])
            return {"id": "r-%s-%d" % (job["id"], len(self.sent))}
        if what[0] == "lost":
            took, timed_out = what[1], what[2]
            if took:
                job.update(EFFECTS[action])
            if job["looks"] is None:
                job["looks"] = [took]
            raise E.LostAnswerError("Lost the connection; the server may or may not have acted on the request",
                                    timed_out=timed_out, method="POST", path="/fake/jobs/{id}/%s" % action)
        error, meanwhile = what[1], what[2]
        if meanwhile:
            job.update(EFFECTS[action])
        raise error

    def look(self, run, action):
        self.looked.append(run.name)
        took = _next(self.server[run.name]["looks"])
        return ({"id": "r-found"} if took else None), took

    def note(self, run):
        return "receipt %s" % run.receipt["id"] if run.receipt else None

    # waiting
    def watch(self, run, action):
        self.watched.append(run.name)
        script = list(_next(self.server[run.name]["runs"]))
        return {"name": run.name, "script": script, "state": script[0]}

    def progress(self, watch):
        self.polled.append(watch["name"])
        script = watch["script"][1:] or watch["script"]
        if isinstance(script[0], Exception):
            watch["script"][:] = script  # the next poll goes on after the failed one (the last one repeats)
            raise script[0]
        return dict(watch, script=script, state=script[0])

    def ended(self, watch):
        return watch["state"].lower() in ENDS

    def state(self, watch):
        return watch["state"]

    def waiting_for(self, watch):
        return "run of %s still %s" % (watch["name"], watch["state"])

    def outcome(self, run, watch):
        job = self.server[run.name]
        if watch["state"] == "refused":
            job.update(self.meanwhile.get(run.name, {"running": False}))
            return Outcome("task finished with 'Cannot start the job'", refused=True)
        job["running"] = False
        return Outcome("run ended %s" % watch["state"], result=watch["state"], reason=job["reason"])

    # reporting
    def conclude(self, run, action):
        self.concluded.append(run.name)

    def keep(self, run, watch):
        self.kept[run.name] = watch["state"]

    def view(self, run):
        out = {"job": {"id": run.job["id"], "name": run.job["name"]} if run.job else None}
        if run.receipt:
            out["receipt"] = run.receipt
        if run.name in self.kept:
            out["kept"] = self.kept[run.name]
        return out

    def extras(self):
        return {"api_version": "f1"}
