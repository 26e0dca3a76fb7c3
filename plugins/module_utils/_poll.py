# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Waiting.  Private to backupops.veeam: not a public API.

:class:`Poller` calls a read function until a predicate holds or ``wait_timeout`` runs out, on the monotonic
clock.  The pause between polls starts at ``first`` seconds and grows with the time already waited
(``ratio`` of it), never beyond ``poll_interval``: a two-second job is noticed within a second of its end,
a ten-minute one within a minute at most, and a long wait does not hammer the server.  A few consecutive
transient errors (connection trouble, 502-504, 429) are tolerated; the last sleep never runs past the
deadline, and one last poll happens at the deadline.  The result has, for each thing waited on, the final value,
the elapsed seconds, the number of polls and the history of distinct states seen; what had not ended when time
ran out is returned as such (``Waited.pending``), never handed to a callback: the caller decides what a timeout
means, after the wait.

Two things keep the number of requests down: a caller that has just read the values it waits on (the answer to a
start) says so with ``fresh``, and the first poll then comes after the first pause instead of at once; and a
``prefetch`` can read every pending value with one request per round (Enterprise Manager lists a logon
session's tasks in one answer) before the per-key probes, which then only use what it read.
"""

from __future__ import annotations

import contextlib
import math
import time

from ansible_collections.backupops.veeam.plugins.module_utils._errors import ParseError, UsageError, VeeamError

#: The shortest poll_interval: shorter pauses would load the server without noticing an end any sooner.
MIN_POLL_INTERVAL = 0.5


def _tolerated(err):
    """An error a poll may meet now and then without ending the wait: connection trouble, 429, 502-504, and an
    answer that could not be read (one truncated answer must not end a long wait; several in a row do)."""
    return err.transient or isinstance(err, ParseError)


def check_seconds(name, value, minimum=0.0):
    """``value`` as a positive, finite number of seconds (at least ``minimum``), or a UsageError naming ``name`` (nan
    and inf are refused too: no wait can use them)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError("%s must be a number of seconds, got %r" % (name, value)) from None
    if not math.isfinite(number) or number <= 0 or number < minimum:
        raise UsageError("%s must be a positive number of seconds%s, got %r"
                         % (name, " (at least %s)" % minimum if minimum else "", value))
    return number


class WaitResult:
    """The outcome of a wait for one thing: its last value, the seconds waited, polls made, states seen, and
    whether it was done (False: the wait ran out first)."""

    def __init__(self, value, elapsed, polls, history, done=True, error=None):
        self.value = value
        self.elapsed = elapsed
        self.polls = polls
        self.history = history
        self.done = done
        self.error = error  # the transient error of the last poll, when the wait ran out right after it


class Waited:
    """The outcome of a wait for several things: ``finished`` and ``pending`` map keys to :class:`WaitResult`;
    ``pending`` is empty unless the wait ran out (``timed_out``) after ``elapsed`` seconds."""

    def __init__(self, finished, pending, elapsed):
        self.finished = finished
        self.pending = pending
        self.elapsed = elapsed

    @property
    def timed_out(self):
        return bool(self.pending)


class Poller:
    """Poll until done, within ``timeout`` seconds, pausing between ``first`` and ``interval`` seconds."""

    def __init__(self, timeout, interval, first=1.0, ratio=0.1, tolerate=3, clock=time.monotonic, sleep=time.sleep,
                 bound=None):
        self.timeout = check_seconds("wait_timeout", timeout)
        self.interval = check_seconds("poll_interval", interval, MIN_POLL_INTERVAL)
        self.first = min(float(first), self.interval)
        self.ratio = ratio
        self.tolerate = tolerate
        self.clock = clock
        self.sleep = sleep
        # bound(deadline): a context manager in which no request runs past the wait's deadline (the transport's
        # Transport.bounded), so that retries inside a poll cannot stretch the wait.
        self.bound = bound

    def pause(self, elapsed):
        """Seconds to wait before the next poll, ``elapsed`` seconds into the wait."""
        return min(self.interval, max(self.first, elapsed * self.ratio))

    def wait(self, probe, done, state=str, value=None, fresh=False):
        """Call ``probe()`` until ``done(value)``: a :class:`WaitResult` (``done`` False when time ran out).

        ``state(value)`` names the value for the history.  Errors from ``probe`` that are not transient end the
        wait at once.  With ``fresh``, ``value`` was just read: it is not read again at once (see :meth:`wait_all`).
        """
        waited = self.wait_all({None: value}, lambda _key, _value: probe(), done, state, fresh=fresh)
        return waited.finished.get(None) or waited.pending[None]

    def wait_all(self, items, probe, done, state=str, fresh=False, prefetch=None):
        """Wait for several things at once: ``items`` maps a key to its last known value; every round calls
        ``probe(key, value)`` for each unfinished key.  Returns a :class:`Waited`: each key's :class:`WaitResult`
        (each with its own elapsed time), under ``finished`` or, when ``timeout`` seconds ran out first,
        ``pending``.

        ``fresh``: the values in ``items`` were just read, so they start the history, those already done finish
        at once, and the first round comes after the first pause.  ``prefetch(keys)``, if given, is called at
        the start of every round with the unfinished keys, before their probes (to read them all with one
        request); a transient error from it counts as a failed poll of every unfinished key.
        """
        start = self.clock()
        deadline = start + self.timeout
        with self.bound(deadline) if self.bound is not None else contextlib.nullcontext():
            return self._wait_all(items, probe, done, state, fresh, prefetch, start, deadline)

    def _wait_all(self, items, probe, done, state, fresh, prefetch, start, deadline):
        pending = dict(items)
        histories = {key: [] for key in pending}
        polls = {key: 0 for key in pending}
        failures = {key: 0 for key in pending}
        errors = {}
        finished = {}
        if fresh:
            for key in list(pending):
                histories[key].append({"state": state(pending[key]), "elapsed": 0.0})
                if done(pending[key]):
                    finished[key] = WaitResult(pending[key], 0.0, 0, histories[key])
                    del pending[key]
            if pending:
                self.sleep(min(self.pause(0.0), self.timeout))
        while pending:
            skip = False
            if prefetch is not None:
                try:
                    prefetch(list(pending))
                except VeeamError as exc:
                    if not _tolerated(exc):
                        raise
                    for key in pending:
                        failures[key] += 1
                        errors[key] = exc
                    worst = max(failures[key] for key in pending)
                    if worst > self.tolerate:
                        exc.message += " (%d failed polls in a row)" % worst
                        raise
                    skip = True
            for key in [] if skip else list(pending):
                try:
                    value = probe(key, pending[key])
                    failures[key] = 0
                    errors.pop(key, None)
                except VeeamError as exc:
                    if not _tolerated(exc):
                        raise
                    failures[key] += 1
                    errors[key] = exc
                    if failures[key] > self.tolerate:
                        exc.message += " (%d failed polls in a row)" % failures[key]
                        raise
                    continue
                polls[key] += 1
                pending[key] = value
                elapsed = round(self.clock() - start, 2)
                name = state(value)
                if not histories[key] or histories[key][-1]["state"] != name:
                    histories[key].append({"state": name, "elapsed": elapsed})
                if done(value):
                    finished[key] = WaitResult(value, elapsed, polls[key], histories[key])
                    del pending[key]
            if not pending:
                break
            now = self.clock()
            if now >= deadline:
                elapsed = round(now - start, 2)
                return Waited(finished, {key: WaitResult(value, elapsed, polls[key], histories[key], done=False,
                                                         error=errors.get(key))
                                         for key, value in pending.items()}, elapsed)
            self.sleep(min(self.pause(now - start), deadline - now))
        return Waited(finished, {}, round(self.clock() - start, 2))
