# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""_poll: the growing interval, the deadline, history, tolerated errors, several things at once."""

from __future__ import annotations

import pytest

from ansible_collections.backupops.veeam.plugins.module_utils._http import Transport
from ansible_collections.backupops.veeam.plugins.module_utils._errors import (
    AuthError, HttpError, NotFoundError, ParseError, TransportError, UsageError, VeeamError)
from ansible_collections.backupops.veeam.plugins.module_utils._poll import MIN_POLL_INTERVAL, Poller, Waited, check_seconds
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import expect_error


def poller(clock, timeout=600, interval=5, **kwargs):
    return Poller(timeout, interval, clock=clock.monotonic, sleep=clock.sleep, **kwargs)


class Script:
    """A probe that returns the scripted values (the last repeats) and records the clock at every call."""

    def __init__(self, clock, *values):
        self.clock = clock
        self.values = list(values)
        self.times = []

    def __call__(self, *_args):
        self.times.append(self.clock.now)
        value = self.values.pop(0) if len(self.values) > 1 else self.values[0]
        if isinstance(value, Exception):
            raise value
        return value


def transient():
    return TransportError("Lost the connection to https://em.example:9398", method="GET", path="/api/tasks/{id}")


# ------------------------------------------------------------------------------------------------ interval
def test_the_interval_grows_from_first_to_poll_interval(clock):
    probe = Script(clock, *(["Working"] * 60 + ["Stopped"]))
    result = poller(clock, interval=5).wait(probe, lambda v: v == "Stopped")
    assert clock.sleeps[0] == 1.0
    assert all(b >= a for a, b in zip(clock.sleeps, clock.sleeps[1:]))
    assert max(clock.sleeps) == 5.0 and clock.sleeps[-5:] == [5.0] * 5
    assert clock.sleeps[:10] == [1.0] * 10  # ratio 0.1 of the time waited: grows once 10 s have passed
    assert result.polls == 61 and result.value == "Stopped"


def test_pause_formula(clock):
    p = poller(clock, interval=30, first=2, ratio=0.25)
    assert [p.pause(e) for e in (0, 4, 8, 40, 120, 1000)] == [2.0, 2.0, 2.0, 10.0, 30.0, 30.0]
    assert poller(clock, interval=0.5, first=1.0).first == 0.5  # first never exceeds poll_interval


def test_a_quick_job_needs_no_sleep(clock):
    result = poller(clock).wait(Script(clock, "Stopped"), lambda v: v == "Stopped")
    assert clock.sleeps == [] and result.elapsed == 0 and result.polls == 1
    assert result.history == [{"state": "Stopped", "elapsed": 0}]


# ------------------------------------------------------------------------------------------------ deadline
def test_never_sleeps_past_the_deadline_and_polls_once_more_at_it(clock):
    """A wait that runs out returns what it had (done False); it never raises: the caller decides."""
    probe = Script(clock, "Working")
    start = clock.now
    result = poller(clock, timeout=12, interval=5).wait(probe, lambda v: v == "Stopped")
    assert sum(clock.sleeps) == pytest.approx(12.0)
    assert probe.times[-1] == pytest.approx(start + 12.0)  # the last poll is at the deadline
    assert clock.now == pytest.approx(start + 12.0)
    assert result.done is False and result.value == "Working" and result.elapsed == 12.0
    assert result.history == [{"state": "Working", "elapsed": 0}] and result.polls == len(probe.times)


def test_a_slow_probe_counts_against_the_deadline(clock):
    def slow():
        clock.advance(7)
        return "Working"
    # polls end at 7, 15 and 23.5 s (7 s each, pauses of 1 and 1.5 s): the third already ran past the deadline
    result = poller(clock, timeout=20, interval=5).wait(slow, lambda v: False)
    assert not result.done and result.elapsed == 23.5 and result.polls == 3
    assert clock.sleeps == [1.0, 1.5]


def test_a_timed_out_wait_keeps_the_last_value_and_history(clock):
    probe = Script(clock, {"state": "Starting"}, {"state": "Working", "progress": 10}, {"state": "Working", "progress": 42})
    result = poller(clock, timeout=30).wait(probe, lambda v: v["state"] == "Stopped", state=lambda v: v["state"])
    assert not result.done
    assert result.value == {"state": "Working", "progress": 42} and result.elapsed == 30.0
    assert [h["state"] for h in result.history] == ["Starting", "Working"]


@pytest.mark.parametrize("timeout,interval,message", [
    (0, 5, "wait_timeout must be a positive number of seconds, got 0"),
    (-10, 5, "wait_timeout must be a positive number of seconds, got -10"),
    (None, 5, "wait_timeout must be a number of seconds, got None"),
    ("soon", 5, "wait_timeout must be a number of seconds, got 'soon'"),
    (float("nan"), 5, "wait_timeout must be a positive number of seconds, got nan"),
    (float("inf"), 5, "wait_timeout must be a positive number of seconds, got inf"),
    (60, 0, "poll_interval must be a positive number of seconds (at least 0.5), got 0"),
    (60, -1.5, "poll_interval must be a positive number of seconds (at least 0.5), got -1.5"),
    (60, None, "poll_interval must be a number of seconds, got None"),
    (60, float("nan"), "poll_interval must be a positive number of seconds (at least 0.5), got nan"),
    (60, float("inf"), "poll_interval must be a positive number of seconds (at least 0.5), got inf"),
    (60, 0.1, "poll_interval must be a positive number of seconds (at least 0.5), got 0.1"),
    (60, "0.4", "poll_interval must be a positive number of seconds (at least 0.5), got '0.4'"),
])
def test_zero_negative_or_odd_timeouts_are_rejected(clock, timeout, interval, message):
    with expect_error("usage") as caught:
        poller(clock, timeout=timeout, interval=interval)
    assert str(caught.error) == message and isinstance(caught.error, UsageError)


def test_check_seconds():
    assert check_seconds("timeout", "2.5") == 2.5 and check_seconds("timeout", 3) == 3.0
    assert check_seconds("timeout", 10, minimum=10) == 10.0
    assert check_seconds("poll_interval", 0.5, minimum=0.5) == 0.5
    with expect_error("usage") as caught:
        check_seconds("timeout", 5, minimum=10)
    assert str(caught.error) == "timeout must be a positive number of seconds (at least 10), got 5"
    for odd in (float("nan"), float("inf"), float("-inf"), "nan", "inf"):
        with expect_error("usage") as caught:
            check_seconds("timeout", odd)
        assert str(caught.error) == "timeout must be a positive number of seconds, got %r" % (odd,)


def test_the_shortest_poll_interval_is_half_a_second(clock):
    assert MIN_POLL_INTERVAL == 0.5
    assert poller(clock, interval=0.5).interval == 0.5
    with expect_error("usage", "poll_interval must be a positive number of seconds (at least 0.5), got 0.49"):
        poller(clock, interval=0.49)


# ------------------------------------------------------------------------------------------------ history
def test_history_records_state_changes_only(clock):
    probe = Script(clock, "Starting", "Working", "Working", "Working", "Stopping", "Stopped")
    result = poller(clock).wait(probe, lambda v: v == "Stopped")
    assert [h["state"] for h in result.history] == ["Starting", "Working", "Stopping", "Stopped"]
    assert [h["elapsed"] for h in result.history] == [0, 1.0, 4.0, 5.0]
    assert result.polls == 6 and result.elapsed == 5.0


def test_state_function_names_values(clock):
    probe = Script(clock, {"s": "a", "n": 1}, {"s": "a", "n": 2}, {"s": "b", "n": 3})
    result = poller(clock).wait(probe, lambda v: v["s"] == "b", state=lambda v: v["s"])
    assert [h["state"] for h in result.history] == ["a", "b"] and result.value == {"s": "b", "n": 3}


# ------------------------------------------------------------------------------------------------ errors
def test_transient_errors_are_tolerated_up_to_the_limit(clock):
    probe = Script(clock, transient(), transient(), transient(), "Stopped")
    result = poller(clock, tolerate=3).wait(probe, lambda v: v == "Stopped")
    assert result.value == "Stopped" and result.polls == 1 and len(probe.times) == 4


def test_one_more_transient_error_is_raised_with_the_count(clock):
    probe = Script(clock, transient(), transient(), transient(), transient(), "Stopped")
    with expect_error("connection") as caught:
        poller(clock, tolerate=3).wait(probe, lambda v: v == "Stopped")
    assert str(caught.error) == ("Lost the connection to https://em.example:9398 (4 failed polls in a row) "
                                 "(GET /api/tasks/{id})")
    assert len(probe.times) == 4


def test_the_count_restarts_after_a_good_poll(clock):
    probe = Script(clock, transient(), transient(), transient(), "Working", transient(), transient(), transient(),
                   "Stopped")
    assert poller(clock, tolerate=3).wait(probe, lambda v: v == "Stopped").value == "Stopped"


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_transient_statuses_are_tolerated(clock, status):
    busy = HttpError("Enterprise Manager could not return the task", status=status)
    assert poller(clock).wait(Script(clock, busy, "Stopped"), lambda v: v == "Stopped").value == "Stopped"


@pytest.mark.parametrize("error", [
    HttpError("Enterprise Manager could not return the task", status=500),
    NotFoundError("Task task-3 was not found", status=404),
    AuthError("rejected", status=401),
])
def test_other_errors_end_the_wait_at_once(clock, error):
    probe = Script(clock, error, "Stopped")
    with pytest.raises(VeeamError) as info:
        poller(clock).wait(probe, lambda v: v == "Stopped")
    assert info.value is error and len(probe.times) == 1 and clock.sleeps == []


def test_an_answer_that_cannot_be_read_is_tolerated_like_connection_trouble(clock):
    """One truncated answer must not end a long wait."""
    probe = Script(clock, ParseError("not XML"), ParseError("not XML"), ParseError("not XML"), "Stopped")
    result = poller(clock, tolerate=3).wait(probe, lambda v: v == "Stopped")
    assert result.value == "Stopped" and result.polls == 1 and len(probe.times) == 4


def test_answers_that_cannot_be_read_end_the_wait_after_the_tolerated_number(clock):
    probe = Script(clock, *([ParseError("The server sent a task that is not valid XML", method="GET",
                                        path="/api/tasks/{id}")] * 4 + ["Stopped"]))
    with expect_error("parse") as caught:
        poller(clock, tolerate=3).wait(probe, lambda v: v == "Stopped")
    assert str(caught.error) == ("The server sent a task that is not valid XML (4 failed polls in a row) "
                                 "(GET /api/tasks/{id})")
    assert len(probe.times) == 4


def test_parse_errors_and_connection_trouble_count_together(clock):
    probe = Script(clock, transient(), ParseError("not XML"), transient(), ParseError("not JSON"), "Stopped")
    with expect_error("parse", "not JSON (4 failed polls in a row)"):
        poller(clock, tolerate=3).wait(probe, lambda v: v == "Stopped")


def test_a_timeout_while_failing_keeps_the_value_it_started_with(clock):
    result = poller(clock, timeout=2, tolerate=100).wait(Script(clock, transient()), lambda v: True, value="Queued")
    assert not result.done and result.value == "Queued" and result.polls == 0 and result.history == []
    assert isinstance(result.error, TransportError)  # what the last poll met


def test_a_pending_result_carries_the_error_of_the_last_poll(clock):
    error = transient()
    result = poller(clock, timeout=10, tolerate=100).wait(Script(clock, "Working", error), lambda v: False)
    assert not result.done and result.value == "Working" and result.error is error


def test_a_pending_result_whose_last_poll_was_good_carries_no_error(clock):
    result = poller(clock, timeout=10, tolerate=100).wait(Script(clock, transient(), transient(), "Working"),
                                                          lambda v: False)
    assert not result.done and result.value == "Working" and result.error is None


def test_a_finished_result_carries_no_error(clock):
    result = poller(clock, tolerate=3).wait(Script(clock, transient(), "Stopped"), lambda v: v == "Stopped")
    assert result.done and result.error is None


def test_a_failed_prefetch_is_the_last_poll_error_of_every_pending_key(clock):
    error = HttpError("Enterprise Manager could not return the tasks", status=503)

    def prefetch(_keys):
        if clock.now - start >= 3:
            raise error
    start = clock.now
    waited = poller(clock, timeout=10, tolerate=100).wait_all({"a": None, "b": None}, lambda k, _v: "Working",
                                                              lambda v: False, prefetch=prefetch)
    assert waited.timed_out and {k: r.error for k, r in waited.pending.items()} == {"a": error, "b": error}


# ------------------------------------------------------------------------------------------------ bound
class Bound:
    """A stand-in for ``Transport.bounded``: records the deadlines it was given and whether a probe ran inside."""

    def __init__(self):
        self.deadlines = []
        self.inside = False

    def __call__(self, deadline):
        self.deadlines.append(deadline)
        return self

    def __enter__(self):
        self.inside = True
        return self

    def __exit__(self, *exc):
        self.inside = False
        return False


def test_the_wait_runs_inside_its_bound_with_its_deadline(clock):
    bound = Bound()
    inside = []

    def probe():
        inside.append(bound.inside)
        return "Working" if len(inside) < 3 else "Stopped"
    start = clock.now
    result = poller(clock, timeout=90, bound=bound).wait(probe, lambda v: v == "Stopped")
    assert result.done and inside == [True, True, True]
    assert bound.deadlines == [start + 90] and bound.inside is False


def test_the_bound_is_left_when_the_wait_runs_out_or_fails(clock):
    bound = Bound()
    result = poller(clock, timeout=5, bound=bound).wait(Script(clock, "Working"), lambda v: False)
    assert not result.done and bound.inside is False
    with pytest.raises(AuthError):
        poller(clock, timeout=5, bound=bound).wait(Script(clock, AuthError("rejected", status=401)), lambda v: False)
    assert bound.inside is False and len(bound.deadlines) == 2


def test_the_bound_of_a_real_transport_cuts_the_requests_of_the_wait(clock):
    """``Transport.bounded`` as the module passes it: inside the wait, the transport knows the deadline."""
    transport = Transport("https://em.example:9398", timeout=30, clock=clock.monotonic)
    seen = []

    def probe():
        seen.append((transport.deadline, transport._left()))  # pylint: disable=protected-access
        clock.advance(50)
        return "Working"
    start = clock.now
    poller(clock, timeout=60, bound=transport.bounded).wait(probe, lambda v: False)
    assert transport.deadline is None
    assert seen[0] == (start + 60, 30.0)
    # the second poll, at 55 s (a pause of 5 s after the first one's 50): 5 s left, plus the grace of 2 s
    assert seen[1][0] == start + 60 and seen[1][1] == pytest.approx(7.0) and len(seen) == 2
    transport.close()


# ------------------------------------------------------------------------------------------------ wait_all
def test_wait_all_keeps_elapsed_per_key(clock):
    plan = {"a": ["Working", "Working", "Stopped"], "b": ["Working"] * 6 + ["Stopped"]}
    probed = []

    def probe(key, last):
        probed.append((key, last))
        values = plan[key]
        return values.pop(0) if len(values) > 1 else values[0]
    waited = poller(clock).wait_all({"a": None, "b": "Queued"}, probe, lambda v: v == "Stopped")
    assert isinstance(waited, Waited) and not waited.timed_out and waited.pending == {}
    results = waited.finished
    assert set(results) == {"a", "b"}
    assert results["a"].elapsed == 2.0 and results["a"].polls == 3
    assert results["b"].elapsed == 6.0 and results["b"].polls == 7
    assert waited.elapsed == 6.0
    assert probed[:2] == [("a", None), ("b", "Queued")]  # each probe gets the key's last known value
    assert [key for key, _last in probed].count("a") == 3  # a finished key is not probed again


def test_wait_all_timeout_returns_pending_and_finished(clock):
    values = {"a": "Stopped", "b": "Working"}
    waited = poller(clock, timeout=10).wait_all({"a": None, "b": None}, lambda k, _v: values[k],
                                                lambda v: v == "Stopped")
    assert waited.timed_out and waited.elapsed == 10.0
    assert list(waited.pending) == ["b"] and waited.pending["b"].value == "Working"
    assert waited.pending["b"].done is False and waited.pending["b"].elapsed == 10.0
    assert waited.pending["b"].history == [{"state": "Working", "elapsed": 0}]
    assert list(waited.finished) == ["a"] and waited.finished["a"].value == "Stopped"
    assert waited.finished["a"].done is True


def test_wait_all_timeout_lists_every_pending_value(clock):
    values = {"a": "Working", "b": "Starting", "c": "Stopped"}
    waited = poller(clock, timeout=5).wait_all(dict.fromkeys(values), lambda k, _v: values[k], lambda v: v == "Stopped")
    assert {k: r.value for k, r in waited.pending.items()} == {"a": "Working", "b": "Starting"}
    assert list(waited.finished) == ["c"]


def test_wait_all_with_nothing_to_wait_for(clock):
    waited = poller(clock).wait_all({}, lambda k, v: v, lambda v: True)
    assert (waited.finished, waited.pending, waited.timed_out) == ({}, {}, False) and clock.sleeps == []
