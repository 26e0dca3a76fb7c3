# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Waiting.  Private to backupops.veeam: not a public API.

:class:`Poller` calls a read function until a predicate holds or ``wait_timeout`` runs out, on the monotonic
clock.  The pause between polls starts at ``first`` seconds and grows with the time already waited
(``ratio`` of it), never beyond ``poll_interval``: a two-second job is noticed within a second of its end,
a ten-minute one within a minute at most, and a long wait does not hammer the server.  A few consecutive
transient errors (connection trouble, 502-504, 429) are tolerated; the last sleep never runs past the
deadline, and one last poll happens at the deadline.  The result has the final value, the elapsed seconds,
the number of polls and the history of distinct states seen.

Two things keep the number of requests down: a caller that has just read the values it waits on (the answer to a
start) says so with ``fresh``, and the first poll then comes after the first pause instead of at once; and a
``prefetch`` can read every pending value with one request per round (Enterprise Manager lists a logon
session's tasks in one answer) before the per-key probes, which then only use what it read.
"""

from __future__ import annotations

import time

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils._errors import VeeamError


class WaitResult:
    """The outcome of a wait."""

    def __init__(self, value, elapsed, polls, history):
        self.value = value
        self.elapsed = elapsed
        self.polls = polls
        self.history = history


class Poller:
    """Poll until done, within ``timeout`` seconds, pausing between ``first`` and ``interval`` seconds."""

    def __init__(self, timeout, interval, first=1.0, ratio=0.1, tolerate=3, clock=time.monotonic, sleep=time.sleep):
        if timeout is None or timeout <= 0:
            raise VeeamError("wait_timeout must be a positive number of seconds, got %r" % (timeout,), kind=E.USAGE)
        if interval is None or interval <= 0:
            raise VeeamError("poll_interval must be a positive number of seconds, got %r" % (interval,), kind=E.USAGE)
        self.timeout = float(timeout)
        self.interval = float(interval)
        self.first = min(float(first), self.interval)
        self.ratio = ratio
        self.tolerate = tolerate
        self.clock = clock
        self.sleep = sleep

    def pause(self, elapsed):
        """Seconds to wait before the next poll, ``elapsed`` seconds into the wait."""
        return min(self.interval, max(self.first, elapsed * self.ratio))

    def wait(self, probe, done, state=str, on_timeout=None, value=None, fresh=False):
        """Call ``probe()`` until ``done(value)``; return a :class:`WaitResult`.

        ``state(value)`` names the value for the history.  On timeout, ``on_timeout(value, elapsed, history)``
        returns the ``VeeamError`` to raise (kind ``wait_timeout``); the default names the last state.
        Errors from ``probe`` that are not transient end the wait at once.  With ``fresh``, ``value`` was just
        read: it is not read again at once (see :meth:`wait_all`).
        """
        def timeout(pending, _done, elapsed):
            last, history = pending[None]
            if on_timeout is not None:
                return on_timeout(last, elapsed, history)
            return None
        return self.wait_all({None: value}, lambda _key, _value: probe(), done, state, timeout, fresh=fresh)[None]

    def wait_all(self, items, probe, done, state=str, on_timeout=None, fresh=False, prefetch=None):
        """Wait for several things at once: ``items`` maps a key to its last known value; every round calls
        ``probe(key, value)`` for each unfinished key.  Returns ``{key: WaitResult}`` (each with its own elapsed
        time); the whole wait ends after ``timeout`` seconds with ``on_timeout(pending, finished, elapsed)``,
        where ``pending`` maps each unfinished key to ``(last value, history)``.

        ``fresh``: the values in ``items`` were just read, so they start the history, those already done finish
        at once, and the first round comes after the first pause.  ``prefetch(keys)``, if given, is called at
        the start of every round with the unfinished keys, before their probes (to read them all with one
        request); a transient error from it counts as a failed poll of every unfinished key.
        """
        start = self.clock()
        deadline = start + self.timeout
        pending = dict(items)
        histories = {key: [] for key in pending}
        polls = {key: 0 for key in pending}
        failures = {key: 0 for key in pending}
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
                    if not exc.transient:
                        raise
                    for key in pending:
                        failures[key] += 1
                    worst = max(failures[key] for key in pending)
                    if worst > self.tolerate:
                        exc.message += " (%d failed polls in a row)" % worst
                        raise
                    skip = True
            for key in [] if skip else list(pending):
                try:
                    value = probe(key, pending[key])
                    failures[key] = 0
                except VeeamError as exc:
                    if not exc.transient:
                        raise
                    failures[key] += 1
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
            elapsed = round(now - start, 2)
            if now >= deadline:
                error = None
                if on_timeout is not None:
                    error = on_timeout({k: (v, histories[k]) for k, v in pending.items()}, finished, elapsed)
                if error is None:
                    last = [h[-1]["state"] for h in (histories[k] for k in pending) if h]
                    error = VeeamError("Gave up waiting after %.0f s; last state: %s"
                                       % (elapsed, ", ".join(last) or "unknown"), kind=E.WAIT_TIMEOUT,
                                       details={"elapsed": elapsed})
                raise error
            self.sleep(min(self.pause(now - start), deadline - now))
        return finished
