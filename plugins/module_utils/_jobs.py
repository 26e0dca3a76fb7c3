# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The life of a job run, once for every Veeam API.  Private to backupops.veeam: not a public API.

:class:`Lifecycle` brings one or several jobs into a state (``started``, ``stopped``, ``retried``, ``enabled``,
``disabled``), the same way whatever the API:

    resolve -> survey -> decide -> (check mode: predict) -> act once -> settle a lost answer -> await -> judge
    -> report

One job is a list of one.  Every job is found and checked before anything is sent (bad input changes nothing);
a job already in the asked state is left alone (``changed`` false); an action is sent at most once, and when its
answer is lost the server is asked what happened instead (never a second POST); a refused action is settled by
reading the job again (another operator may have done it meanwhile); runs are awaited together; how a run ended
is judged in one place (Failed fails the task, Warning fails it with ``fail_on_warning`` and warns otherwise);
and the result has the same shape for every API.

What differs per API is behind a :class:`JobAdapter` (``_em``, ``_m365``, ``_vbr``): how jobs are found, what
their state is, how an action is sent and how a lost one is recognised, what to poll while waiting and how the
run ended.  The adapter owns its values (jobs, sessions, tasks, watches); the lifecycle only hands them back.
"""

from __future__ import annotations

import time

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils._errors import LostAnswerError, VeeamError

#: ``state`` option -> the action that brings a job there.
ACTIONS = {"started": "start", "stopped": "stop", "retried": "retry", "enabled": "enable", "disabled": "disable"}

#: action -> (what a done one is called, what a job that needed nothing is called), for messages and counts.
_WORDS = {
    "start": ("started", "already running"),
    "retry": ("retried", "not retried"),
    "stop": ("stopped", "not running"),
    "enable": ("enabled", "already enabled"),
    "disable": ("disabled", "already disabled"),
}

#: action -> why a refused action may have been done by someone else meanwhile.
_MEANWHILE = {
    "start": "It started since the module read it, so it was left running",
    "retry": "It started since the module read it, so it was left running",
    "stop": "Its run ended since the module read it",
    "enable": "It was enabled since the module read it",
    "disable": "It was disabled since the module read it",
}

#: Results that mean the run made no backup: the task fails (VB365 adds NotConfigured and Disconnected).
BAD_RESULTS = frozenset(("failed", "notconfigured", "disconnected"))


class Outcome:
    """How an awaited run ended, as the adapter read it.

    ``ending``: the words after "<what was done>: " in the message ("session X ended Success").  ``result``: the
    run's result as Veeam names it (Success, Warning, Failed, Stopped, ...), or None when there is no run result
    to judge (a start task that finished).  ``reason``: Veeam's explanation of a result other than Success.
    ``refused``: the server accepted the request but then refused the action (an Enterprise Manager start task
    that finished without success).  ``timed``: the message ends with the seconds waited.
    """

    def __init__(self, ending, result=None, reason=None, refused=False, timed=True):
        self.ending = ending
        self.result = result
        self.reason = reason
        self.refused = refused
        self.timed = timed


class Run:
    """One job of the task, as far as it got.  ``current``, ``before``, ``receipt`` belong to the adapter."""

    def __init__(self, index, want):
        self.index = index
        self.want = want          # the request: job_id / job_name and the API's per-job options
        self.job = None           # the job, as the adapter found it
        self.current = None       # what the survey found (the running session, the job's state)
        self.before = None        # what tells a new session from the ones before the action
        self.receipt = None       # what the action answered (a task, a session), or None
        self.session = None       # the session of the run, as last read
        self.detail = None        # more the adapter read about the job (VBR: the job's own settings)
        self.lost_answer = False  # the action's answer was lost, and the server showed it took effect
        self.skipped = False      # the job was in the asked state already: nothing was sent
        self.changed = False
        self.failed = False
        self.msg = ""
        self.elapsed = None
        self.history = None
        self.sent_at = None
        self.change = None        # the journal entry of the change, while it stands

    @property
    def name(self):
        return self.job["name"] if self.job else self.want.get("job_name") or self.want.get("job_id")


class JobAdapter:
    """What the lifecycle needs from an API.  Subclasses implement the methods that raise NotImplementedError;
    the others have defaults that suit most APIs.  ``client`` is the API's client (its transport is used to
    settle lost answers); ``product`` names the server in messages."""

    product = "Veeam"
    #: The answer to an action was just read: the first poll comes after the first pause.
    fresh = True
    #: ``prefetch(watches)`` reads what every pending watch needs with one request per round (it is given the
    #: watches as they were when the wait began, to tell what they are), or None.
    prefetch = None
    #: The actions whose result is awaited with ``wait`` (a schedule change, by default, is done when answered).
    awaited = ("start", "stop", "retry")

    def __init__(self, client):
        self.client = client

    # ------------------------------------------------------------------ finding
    def find(self, wanted):
        """The jobs of ``wanted`` (a list of request dicts), in order; NotFound/Ambiguous/Usage errors."""
        raise NotImplementedError

    # ------------------------------------------------------------------ state
    def survey(self, runs, action, acting):
        """Read what deciding and awaiting ``action`` needs (the running session, what tells a new session from
        the old ones) into ``run.current`` / ``run.before``.  ``acting`` is False in check mode."""
        raise NotImplementedError

    def running(self, run):
        raise NotImplementedError

    def enabled(self, run):
        raise NotImplementedError

    def failed_last(self, run):
        """Whether the job's last run failed (only such a job is retried)."""
        raise NotImplementedError

    def stopping(self, run):  # pylint: disable=unused-argument
        """Whether the job is being stopped already (a stop is then not sent again, only awaited)."""
        return False

    def running_label(self, run):
        """The running session in words ("session X, Working"), or None."""
        return None

    def idle_label(self, run):
        """The idle job's last run in words ("last status Success", "it never ran")."""
        return None

    def kind(self, run, action):  # pylint: disable=unused-argument
        """Words before "job" in messages ("an active full backup of ")."""
        return ""

    def recheck(self, run, action):  # pylint: disable=unused-argument
        """Read the job again right before ``action`` is sent, where sending it to a job already in the state would
        do harm (Enterprise Manager's schedule toggle); True when it read, and the job is then decided anew."""
        return False

    # ------------------------------------------------------------------ acting
    def send(self, run, action):
        """Send ``action`` once; what it answered (a task, a session) or None.  A lost answer raises
        LostAnswerError; an error status raises its typed error."""
        raise NotImplementedError

    def look(self, run, action):
        """After a lost answer: ``(receipt or None, took effect)``, from what the server shows now."""
        raise NotImplementedError

    def note(self, run):
        """What to name beside a done action ("task task-7", "session X"), or None."""
        return None

    # ------------------------------------------------------------------ waiting
    def watch(self, run, action):
        """What to poll until the run of ``action`` ends, or None when there is nothing to await."""
        raise NotImplementedError

    def progress(self, watch):
        raise NotImplementedError

    def ended(self, watch):
        raise NotImplementedError

    def state(self, watch):
        """The watch's state in a word or two, for the history and ``last_state``."""
        raise NotImplementedError

    def waiting_for(self, watch):
        """What is still awaited, in words ("session X still Running"), for timeout messages."""
        raise NotImplementedError

    def outcome(self, run, watch):
        """How the awaited run ended: an :class:`Outcome` (may read the job once more)."""
        raise NotImplementedError

    def resume_hint(self, action, runs):  # pylint: disable=unused-argument
        if action == "stop":
            return ("%s may take a while to stop a job; run the task again to go on waiting (the stop is not sent "
                    "twice)" % self.product)
        return "The job keeps running; to go on waiting, run the task again (a running job is not started twice)"

    # ------------------------------------------------------------------ reporting
    def conclude(self, run, action):
        """After an action that was not awaited: read once what the result should show (the new session)."""

    def keep(self, run, watch):
        """The wait ran out: keep in the run what the watch last read (its session), for the failed result."""

    def view(self, run):
        """The API's return keys for one job (``job``, ``session``, ``task``)."""
        raise NotImplementedError

    def extras(self):
        """Return keys for the whole task (``api_version``)."""
        return {}


class Lifecycle:
    """Bring the jobs of a task into a state; see the module docstring.

    ``poller(timeout)`` makes a ``_poll.Poller`` for ``timeout`` seconds; ``wait_timeout`` is the whole wait.
    """

    def __init__(self, adapter, state, journal, poller=None, wait=True, wait_timeout=None, if_running="skip",
                 fail_on_warning=False, check_mode=False, clock=time.monotonic):
        if state not in ACTIONS:
            raise E.UsageError("state %r is not one of %s" % (state, ", ".join(ACTIONS)))
        self.adapter = adapter
        self.action = ACTIONS[state]
        self.journal = journal
        self.poller = poller
        self.wait = wait and self.action in adapter.awaited
        self.wait_timeout = wait_timeout
        self.if_running = if_running
        self.fail_on_warning = fail_on_warning
        self.check_mode = check_mode
        self.clock = clock
        self.many = False

    @property
    def product(self):
        return self.adapter.product

    # ------------------------------------------------------------------ the whole run
    def run(self, wanted, many=None):
        """Bring the jobs of ``wanted`` (request dicts) into the state: the module's result, or a VeeamError.
        ``many``: report a list (``jobs``) even for one entry (the ``jobs`` option was given)."""
        self.many = len(wanted) > 1 if many is None else many
        runs = self.resolve(wanted)
        self.adapter.survey(runs, self.action, acting=not self.check_mode)
        for run in runs:
            refusal = self.decide(run)
            if refusal is not None:
                raise refusal
        if self.check_mode:
            return self.predict(runs)
        try:
            for run in runs:
                if not run.skipped:
                    self.act(run)
            unwatched = self.await_runs(runs) if self.wait else [run for run in runs if run.changed]
            for run in unwatched:
                self.adapter.conclude(run, self.action)
                note = self.adapter.note(run)
                if self.action == "stop":
                    run.msg = "Asked %s to stop job %r" % (self.product, run.name)
                if note:
                    run.msg += " (%s)" % note
        except VeeamError as err:
            if self.many:
                err.details.setdefault("jobs", [self.result(run) for run in runs])
                err.details.update(self.adapter.extras())
            raise
        for run in runs:
            if run.elapsed is None and run.sent_at is not None:
                run.elapsed = self.clock() - run.sent_at
        return self.report(runs)

    def resolve(self, wanted):
        runs = [Run(i, want) for i, want in enumerate(wanted)]
        seen = set()
        for run, job in zip(runs, self.adapter.find(wanted)):
            if job["id"] in seen:
                raise E.UsageError("Job %r is given twice%s" % (job["name"], " in jobs" if self.many else ""))
            seen.add(job["id"])
            run.job = job
        return runs

    def decide(self, run):
        """Whether the job needs the action: a job already in the state is marked ``skipped`` with a message.  A
        running job that must not be (``if_running: fail``) gives a ConflictError, returned (not raised)."""
        action, adapter = self.action, self.adapter
        run.skipped = False
        if action in ("start", "retry"):
            if adapter.running(run):
                label = adapter.running_label(run)
                shown = " (%s)" % label if label else ""
                if self.if_running == "fail":
                    return E.ConflictError("Job %r is already running%s" % (run.name, shown),
                                           hint="Use if_running: skip to leave it running and report its session",
                                           details=adapter.view(run))
                run.skipped = True
                run.msg = "Job %r is already running%s; not %s again" % (run.name, shown, _WORDS[action][0])
            elif action == "retry" and not adapter.failed_last(run):
                run.skipped = True
                label = adapter.idle_label(run)
                run.msg = "Job %r did not fail last time%s; not retried" % (run.name, " (%s)" % label if label else "")
        elif action == "stop":
            if not adapter.running(run):
                run.skipped = True
                label = adapter.idle_label(run)
                run.msg = "Job %r is not running%s" % (run.name, " (%s)" % label if label else "")
            elif adapter.stopping(run):
                run.skipped = True
                run.msg = "Job %r is being stopped already; the stop was not sent again" % run.name
        elif adapter.enabled(run) is (action == "enable"):
            run.skipped = True
            run.msg = "Job %r is already %s" % (run.name, _WORDS[action][0])
        return None

    def predict(self, runs):
        for run in runs:
            if not run.skipped:
                run.changed = True
                run.msg = "Would %s %sjob %r" % (self.action, self.adapter.kind(run, self.action), run.name)
        return self.report(runs, "would be " + _WORDS[self.action][0])

    # ------------------------------------------------------------------ acting
    def act(self, run):
        """Send the action once.  A lost answer is settled by asking the server; a refusal by reading the job again
        (someone may have done it meanwhile); in a list, a refusal fails that job only."""
        if self.adapter.recheck(run, self.action):
            refusal = self.decide(run)
            if refusal is not None or run.skipped:
                meanwhile = _MEANWHILE[self.action]
                self.journal.warn("%s: %s%s, so nothing was sent" % (run.msg, meanwhile[0].lower(), meanwhile[1:]))
                if refusal is not None:
                    if not self.many:
                        raise refusal
                    run.failed, run.msg = True, str(refusal)
                return
        run.sent_at = self.clock()
        try:
            run.receipt = self.adapter.send(run, self.action)
        except LostAnswerError as lost:
            run.receipt = self.settle(run, lost)
            run.lost_answer = True
        except VeeamError as err:
            if not E.refusal(err):
                raise
            if self.done_meanwhile(run, err):
                return
            if not self.many:
                raise
            run.failed = True
            run.msg = str(err)
            return
        run.changed = True
        run.msg = "%s %sjob %r" % (_WORDS[self.action][0].capitalize(), self.adapter.kind(run, self.action), run.name)
        note = self.adapter.note(run)
        run.change = self.journal.changed(run.msg + (" (%s)" % note if note else ""))

    def settle(self, run, lost):
        """The answer to the action was lost: what the server shows now decides (the action is never sent again).
        A request that timed out may still be carried out: it is looked for as long again as ``timeout``."""
        adapter, action = self.adapter, self.action
        (receipt, took), looks = adapter.client.t.look_after_lost(lost, lambda: adapter.look(run, action),
                                                                  seen=lambda found: found[1])
        if took:
            self.journal.warn("The response to the %s of job %r was lost; %s shows it took effect, so it was not "
                              "sent again" % (action, run.name, self.product))
            return receipt
        if lost.timed_out:
            raise LostAnswerError(
                "%s did not answer the %s of job %r within %s s (the timeout option), and %d s later still shows no "
                "sign of it; the %s was not sent again, but %s may still carry it out" % (
                    self.product, action, run.name, adapter.client.t.timeout, looks, action, self.product),
                method=lost.method, path=lost.path,
                hint="Check the job's state and sessions before you %s it again, and raise timeout if %s is slow"
                     % (action, self.product))
        raise LostAnswerError("The %s request for job %r got no response, and %s shows it did not take effect; it "
                              "was not sent again" % (action, run.name, self.product), method=lost.method,
                              path=lost.path, hint="Run the task again once the connection to %s is stable"
                                                   % self.product)

    def done_meanwhile(self, run, err):
        """The server refused the action: when the job is in the asked state now (another operator did it), that
        is what the task reports, with a warning, instead of the refusal."""
        self.adapter.survey([run], self.action, acting=True)
        refusal = self.decide(run)
        if refusal is None and not run.skipped:
            return False
        self.journal.warn("%s refused to %s job %r: %s. %s" % (self.product, self.action, run.name,
                                                               str(err.veeam_message or err).rstrip("."),
                                                               _MEANWHILE[self.action]))
        if refusal is not None:
            if not self.many:
                raise refusal
            run.failed, run.msg = True, str(refusal)
        return True

    # ------------------------------------------------------------------ waiting
    def await_runs(self, runs):
        """Await every run the action made (and, for a start, the runs that were going already) together; a run
        whose start turns out refused and whose job runs anyway is then awaited as a running job.  Returns the
        changed runs that had nothing to await (a start the server answered without a session)."""
        adapter = self.adapter
        watches, unwatched = {}, []
        for run in runs:
            going = run.skipped and adapter.running(run) and (
                self.action in ("start", "retry") or (self.action == "stop" and adapter.stopping(run)))
            if run.failed or not (run.changed or going):
                continue
            watch = adapter.watch(run, self.action)
            if watch is not None:
                watches[run.index] = watch
            elif run.changed:
                unwatched.append(run)
        start = self.clock()
        while watches:
            offset = self.clock() - start
            poller = self.poller(max(self.wait_timeout - offset, 0.01))
            waited = poller.wait_all(watches, lambda _key, watch: adapter.progress(watch), adapter.ended,
                                     adapter.state, fresh=adapter.fresh, prefetch=_prefetch(adapter, watches))
            watches = {}
            for key, result in waited.finished.items():
                follow = self.judge(runs[key], _shifted(result, offset))
                if follow is not None:
                    watches[key] = follow
            if waited.timed_out:
                raise self.timeout_error(runs, {key: _shifted(result, offset)
                                                for key, result in waited.pending.items()},
                                         round(waited.elapsed + offset, 2))
        return unwatched

    def judge(self, run, waited):
        """How a run ended, into the run: failed, warned or fine.  Returns a watch to go on with when the start was
        refused but the job runs anyway (another operator's run, reported as ``if_running`` says)."""
        outcome = self.adapter.outcome(run, waited.value)
        run.elapsed, run.history = waited.elapsed, waited.history
        if outcome.refused:
            return self.refused_later(run, outcome)
        run.msg = "%s: %s" % (run.msg, outcome.ending) + (" after %.1f s" % waited.elapsed if outcome.timed else "")
        if outcome.result is None:
            return None
        result = str(outcome.result or "")
        lowered = result.lower()
        if lowered != "success" and outcome.reason:
            run.msg += ": %s" % outcome.reason
        reason = ": %s" % outcome.reason if outcome.reason else ""
        if self.action == "stop":
            if lowered != "stopped":
                self.journal.warn("Job %r ended %s before the stop took effect" % (run.name, result or "in no known "
                                                                                   "state"))
        elif lowered in BAD_RESULTS or (lowered == "warning" and self.fail_on_warning):
            run.failed = True
        elif lowered == "warning":
            self.journal.warn("Job %r ended with a warning%s" % (run.name, reason))
        elif lowered != "success":
            self.journal.warn("Job %r ended %s%s" % (run.name, result or "in no known state", reason))
        return None

    def refused_later(self, run, outcome):
        """The server took the request but refused the action (its task says so): the job did not change.  When the
        job is in the asked state now (another operator did it meanwhile: it runs, its run ended), that is reported
        with a warning; a run another operator started is reported as ``if_running`` says (and awaited)."""
        run.changed = False
        self.journal.retract(run.change)
        self.adapter.survey([run], self.action, acting=True)
        refusal = self.decide(run)
        if refusal is None and not run.skipped:
            run.failed = True
            run.msg = "%s did not %s %sjob %r: %s" % (self.product, self.action, self.adapter.kind(run, self.action),
                                                      run.name, outcome.ending)
            return None
        self.journal.warn("%s refused to %s job %r (%s). %s" % (self.product, self.action, run.name,
                                                                outcome.ending, _MEANWHILE[self.action]))
        if refusal is not None:
            run.failed, run.msg = True, str(refusal)
            return None
        if self.action in ("start", "retry") and self.adapter.running(run):
            return self.adapter.watch(run, self.action) if self.wait else None
        return None

    def timeout_error(self, runs, pending, elapsed):
        """The wait ran out: which jobs, what each still awaits, and how to go on."""
        lines = []
        for key, waited in pending.items():
            run = runs[key]
            self.adapter.keep(run, waited.value)
            phrase = self.adapter.waiting_for(waited.value)
            if waited.error is not None:
                phrase += " (the last poll failed: %s)" % waited.error
            run.elapsed, run.history = waited.elapsed, waited.history
            run.msg = "%s: %s after %.0f s" % (run.msg, phrase, waited.elapsed)
            lines.append("job %r: %s" % (run.name, phrase))
        details = {"changed": any(run.changed for run in runs), "elapsed": elapsed}
        if self.many:
            details["jobs"] = [self.result(run) for run in runs]
        else:
            waited = next(iter(pending.values()))
            details.update(self.adapter.view(runs[0]), history=waited.history,
                           last_state=self.adapter.state(waited.value))
        details.update(self.adapter.extras())
        return E.WaitTimeoutError("Gave up waiting after %.0f s (wait_timeout %s s): %s" % (
            elapsed, self.wait_timeout, "; ".join(lines)), hint=self.adapter.resume_hint(self.action, runs),
            details=details)

    # ------------------------------------------------------------------ reporting
    def result(self, run):
        out = {"changed": run.changed, "failed": run.failed, "msg": run.msg,
               "elapsed": round(run.elapsed or 0.0, 2)}
        out.update(self.adapter.view(run))
        if run.history is not None:
            out["history"] = run.history
        return out

    def report(self, runs, done=None):
        """The module's result: one job's keys, or ``jobs`` and a count for a list; a failed job fails the task
        (JobFailedError, with the result)."""
        if not self.many:
            result = self.result(runs[0])
            result.update(self.adapter.extras())
            if result.pop("failed"):
                raise E.JobFailedError(result.pop("msg"), details=result)
            return result
        results = [self.result(run) for run in runs]
        failed = [r for r in results if r["failed"]]
        done_word, skipped_word = _WORDS[self.action]
        msg = "%d job%s: %d %s, %d %s, %d failed" % (
            len(runs), "" if len(runs) == 1 else "s", sum(1 for r in results if r["changed"]), done or done_word,
            sum(1 for run in runs if run.skipped), skipped_word, len(failed))
        changed = any(r["changed"] for r in results)
        extras = self.adapter.extras()
        if failed:
            raise E.JobFailedError(msg + ": " + "; ".join(r["msg"] for r in failed),
                                   details=dict(extras, jobs=results, changed=changed))
        return dict(extras, changed=changed, jobs=results, msg=msg,
                    elapsed=max([r["elapsed"] for r in results] or [0.0]))


def _prefetch(adapter, watches):
    """The adapter's prefetch as the Poller calls it (with the pending keys), or None when it has none."""
    if adapter.prefetch is None:
        return None
    first = dict(watches)
    return lambda keys: adapter.prefetch([first[key] for key in keys])


def _shifted(waited, offset):
    """A WaitResult of a later round of the wait, with its times counted from the start of the first round."""
    if offset:
        waited.elapsed = round(waited.elapsed + offset, 2)
        waited.history = [dict(h, elapsed=round(h["elapsed"] + offset, 2)) for h in waited.history]
    return waited


def wanted_jobs(params, inherited=(), by_name_only=()):
    """The jobs a task names, as request dicts: the entries of ``jobs``, or the one job of ``job_id`` /
    ``job_name``.  ``inherited`` options of the task apply to the entries that do not set their own;
    ``by_name_only`` ones only to entries given by name (an organization chooses among jobs of one name)."""
    keys = ("job_id", "job_name") + tuple(inherited)
    if not params.get("jobs"):
        return [{key: params.get(key) for key in keys}]
    wanted = []
    for entry in params["jobs"]:
        item = {key: entry.get(key) for key in keys}
        for key in inherited:
            if item[key] is None and not (key in by_name_only and entry.get("job_id")):
                item[key] = params.get(key)
        wanted.append(item)
    return wanted
