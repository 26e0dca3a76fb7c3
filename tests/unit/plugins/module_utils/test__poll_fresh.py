# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""_poll: fewer requests - a value just read is not read again at once (fresh), one read per round (prefetch)."""

from __future__ import annotations

from ansible_collections.backupops.veeam.plugins.module_utils._errors import AuthError, TransportError
from ansible_collections.backupops.veeam.plugins.module_utils._poll import Poller
from ansible_collections.backupops.veeam.tests.unit.plugins.module_utils.veeam_fakes import expect_error


def poller(clock, timeout=600, interval=5, **kwargs):
    return Poller(timeout, interval, clock=clock.monotonic, sleep=clock.sleep, **kwargs)


def transient():
    return TransportError("Lost the connection to https://em.example:9398", method="GET", path="/api/tasks")


def test_a_fresh_value_is_not_read_again_at_once(clock):
    times = []
    values = ["Running", "Finished"]

    def probe():
        times.append(clock.now)
        return values.pop(0)
    result = poller(clock).wait(probe, lambda v: v == "Finished", value="Running", fresh=True)
    assert times == [1001.0, 1002.0]  # the first poll one pause (1 s) after the value was read, not at once
    assert result.polls == 2 and result.elapsed == 2.0
    assert result.history == [{"state": "Running", "elapsed": 0.0}, {"state": "Finished", "elapsed": 2.0}]


def test_without_fresh_the_first_poll_is_at_once(clock):
    times = []
    poller(clock).wait(lambda: times.append(clock.now) or "Finished", lambda v: v == "Finished")
    assert times == [1000.0] and clock.sleeps == []


def test_fresh_values_already_done_finish_without_a_poll(clock):
    probed = []
    results = poller(clock).wait_all({"a": "Finished", "b": "Running"}, lambda k, v: probed.append(k) or "Finished",
                                     lambda v: v == "Finished", fresh=True).finished
    assert probed == ["b"] and results["a"].polls == 0 and results["a"].elapsed == 0.0
    assert results["b"].polls == 1 and clock.sleeps == [1.0]


def test_a_fresh_wait_never_sleeps_past_the_timeout(clock):
    result = poller(clock, timeout=0.5).wait(lambda: "Running", lambda v: v == "Finished", value="Running", fresh=True)
    assert not result.done and result.elapsed == 0.5 and result.polls == 1
    assert clock.sleeps == [0.5]


def test_prefetch_runs_once_per_round_with_the_pending_keys(clock):
    rounds = []
    table = {}
    plan = {"a": ["Running", "Finished"], "b": ["Running", "Running", "Finished"]}

    def prefetch(keys):
        rounds.append(sorted(keys))
        for key in keys:
            table[key] = plan[key].pop(0)
    results = poller(clock).wait_all({"a": None, "b": None}, lambda k, _v: table[k], lambda v: v == "Finished",
                                     prefetch=prefetch).finished
    assert rounds == [["a", "b"], ["a", "b"], ["b"]]
    assert results["a"].polls == 2 and results["b"].polls == 3


def test_a_transient_prefetch_error_counts_for_every_key_and_skips_the_round(clock):
    calls = {"prefetch": 0, "probe": 0}
    outcomes = [transient(), None]

    def prefetch(_keys):
        calls["prefetch"] += 1
        error = outcomes.pop(0) if outcomes else None
        if error is not None:
            raise error

    def probe(_key, _value):
        calls["probe"] += 1
        return "Finished"
    results = poller(clock).wait_all({"a": None, "b": None}, probe, lambda v: v == "Finished", prefetch=prefetch).finished
    assert calls == {"prefetch": 2, "probe": 2} and set(results) == {"a", "b"}


def test_too_many_prefetch_errors_end_the_wait(clock):
    def prefetch(_keys):
        raise transient()
    with expect_error("connection", "4 failed polls in a row"):
        poller(clock).wait_all({"a": None}, lambda k, v: "Finished", lambda v: v == "Finished", prefetch=prefetch)


def test_other_prefetch_errors_end_the_wait_at_once(clock):
    def prefetch(_keys):
        raise AuthError("forbidden")
    with expect_error("auth"):
        poller(clock).wait_all({"a": None}, lambda k, v: "Finished", lambda v: v == "Finished", prefetch=prefetch)
    assert clock.sleeps == []
