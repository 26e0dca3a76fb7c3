# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Benchmark timer: records when each task started and when its result reached the controller.

Enabled by benchmarks/run.py only (``ANSIBLE_CALLBACKS_ENABLED=bench_timer``); writes one JSON document to
``BENCH_TIMER_FILE``: ``{"play_start": t, "end": t, "tasks": [{"name", "action", "start", "end", "status"}]}``
with wall-clock times (``time.time()``), so they compare with the emulator's own records.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: bench_timer
type: aggregate
short_description: Wall-clock start and end of every task, for benchmarks/run.py
description:
  - Writes the start and end time of every task to the JSON file named by E(BENCH_TIMER_FILE).
requirements:
  - enable in configuration
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.data = {"play_start": time.time(), "end": None, "tasks": []}
        self.current = {}

    def _task_start(self, task):
        entry = {"name": task.get_name(), "action": task.action, "start": time.time(), "end": None,
                 "status": None}
        self.data["tasks"].append(entry)
        self.current[task._uuid] = entry  # pylint: disable=protected-access

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_start(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._task_start(task)

    def _done(self, result, status):
        entry = self.current.get(result._task._uuid)  # pylint: disable=protected-access
        if entry is not None:
            entry["end"] = time.time()
            entry["status"] = status

    def v2_runner_on_ok(self, result):
        self._done(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._done(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._done(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._done(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        self.data["end"] = time.time()
        path = os.environ.get("BENCH_TIMER_FILE")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(self.data, handle)
