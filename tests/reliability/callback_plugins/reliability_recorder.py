# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Test-only callback of the reliability suite: records every task result, and drives the emulator per case.

Enabled by the suite (``ANSIBLE_CALLBACKS_ENABLED=reliability_recorder``), never shipped for users.  It writes
one JSON line per task result to ``$RELIABILITY_RECORD``: the task name, ``ok``/``failed``/..., and the result
as the user sees it (after Ansible's no_log handling).

With ``$RELIABILITY_PLAN`` (a batch of cases, see ``harness.Batch``) it also, before each task named
``case <id>``, resets the case's emulator and installs the case's configuration, clock and fault rules; after
the task it adds the emulator's counters and request log to the record.  Tokens the emulator issued are read
from its ``state.json`` (before each reset and after each case) and stored in the record's ``tokens`` for the
secret scan; they are never printed.
"""

from __future__ import annotations

import json
import os
import ssl
import time
import urllib.error
import urllib.request

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: reliability_recorder
type: aggregate
short_description: Records task results and drives the emulator for the reliability suite (tests only)
description: Test-only; see the module docstring.
"""


def _control(emu, method, name, payload=None):
    data = None if payload is None else json.dumps(payload).encode("utf-8")
    req = urllib.request.Request("%s/%s" % (emu["control"], name), data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    context = ssl.create_default_context(cafile=emu["ca"]) if emu.get("ca") else None
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(req, timeout=30) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:
        raise RuntimeError("emulator control %s %s answered %s: %r" % (method, name, exc.code, exc.read()[:300])) from None
    return json.loads(body) if body else None


def _tokens(emu):
    try:
        with open(emu["state"], encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return []
    found = [[item["token"], "EM session token"] for item in (data.get("em") or {}).get("logons") or [] if item.get("token")]
    m365 = data.get("m365") or {}
    found.extend([token, "VB365 access token"] for token in m365.get("tokens") or {})
    found.extend([token, "VB365 refresh token"] for token in m365.get("refresh_tokens") or {})
    vbr = data.get("vbr") or {}
    found.extend([token, "VBR access token"] for token in vbr.get("tokens") or {})
    found.extend([token, "VBR refresh token"] for token in vbr.get("refresh_tokens") or {})
    return found


class CallbackModule(CallbackBase):
    """See the module docstring."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "reliability_recorder"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.record_path = os.environ.get("RELIABILITY_RECORD")
        plan_path = os.environ.get("RELIABILITY_PLAN")
        self.plan = None
        if plan_path:
            with open(plan_path, encoding="utf-8") as handle:
                self.plan = json.load(handle)
        self.current = None
        self.started = None
        self.setup_error = None
        self.pending_tokens = []

    # ------------------------------------------------------------------ per case
    def _case(self, task):
        name = task.get_name() if task is not None else ""
        if self.plan and name.startswith("case "):
            case_id = name[len("case "):]
            if case_id in self.plan["cases"]:
                return case_id, self.plan["cases"][case_id]
        return None, None

    def v2_playbook_on_task_start(self, task, is_conditional):
        case_id, case = self._case(task)
        self.current, self.setup_error = case_id, None
        self.started = time.time()
        if case is None:
            return
        emu = self.plan["emulators"][case["emulator"]]
        try:
            self.pending_tokens = _tokens(emu)
            _control(emu, "POST", "reset")
            if case.get("config"):
                _control(emu, "POST", "config", case["config"])
            if case.get("clock"):
                _control(emu, "POST", "clock", case["clock"])
            if case.get("faults"):
                _control(emu, "POST", "faults", case["faults"])
        except Exception as exc:  # pylint: disable=broad-exception-caught
            self.setup_error = "setup of case %s failed: %r" % (case_id, exc)
        self.started = time.time()

    # ------------------------------------------------------------------ results
    def _write(self, result, status):
        if not self.record_path:
            return
        task = result._task  # pylint: disable=protected-access
        data = {k: v for k, v in result._result.items() if k != "invocation"}  # pylint: disable=protected-access
        if "invocation" in result._result:  # pylint: disable=protected-access
            data["invocation"] = result._result["invocation"]  # pylint: disable=protected-access
        record = {"task": task.get_name(), "status": status, "result": data, "start": self.started, "end": time.time()}
        case_id, case = self._case(task)
        if case is not None:
            emu = self.plan["emulators"][case["emulator"]]
            try:
                record["counters"] = _control(emu, "GET", "counters")
                record["log"] = _control(emu, "GET", "log")
                record["faults"] = _control(emu, "GET", "faults")
                record["tokens"] = self.pending_tokens + _tokens(emu)
            except Exception as exc:  # pylint: disable=broad-exception-caught
                record["error"] = "reading the emulator after case %s failed: %r" % (case_id, exc)
            if self.setup_error:
                record["error"] = self.setup_error
        with open(self.record_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=str) + "\n")

    def v2_runner_on_ok(self, result):
        self._write(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._write(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._write(result, "unreachable")
