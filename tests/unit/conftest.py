# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Shared unit-test helpers: module arguments for AnsibleModule on ansible-core 2.16 to 2.21.

ansible-core 2.19 refuses the classic trick of setting ``basic._ANSIBLE_ARGS`` ("No serialization profile was
specified") and offers ``ansible.module_utils.testing.patch_module_args`` (so do 2.20 and 2.21); 2.16 to 2.18 do not have it, so the
fallback patches ``_ANSIBLE_ARGS``.  ``exit_json``/``fail_json`` must run inside the context (2.19 looks the
profile up when it writes the result).
"""

from __future__ import annotations

import contextlib
import json
from unittest import mock

import pytest
from ansible.module_utils.basic import AnsibleModule

try:
    from ansible.module_utils.testing import patch_module_args  # ansible-core >= 2.19
except ImportError:  # ansible-core < 2.19
    @contextlib.contextmanager
    def patch_module_args(args=None):
        from ansible.module_utils import basic  # pylint: disable=import-outside-toplevel

        serialized = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode("utf-8")
        with mock.patch.object(basic, "_ANSIBLE_ARGS", serialized):
            yield


class ModuleExit(Exception):
    """What a module run ended with: ``result`` (the JSON it wrote) and whether it ``failed``."""

    def __init__(self, result, code, params=None):
        super().__init__(result)
        self.result = result
        self.code = code
        #: The module's parameters as it ended (aliases and defaults applied): ansible-core 2.21 no longer prints
        #: them as ``invocation``.
        self.params = params

    @property
    def failed(self):
        return bool(self.result.get("failed"))

    @property
    def warnings(self):
        """The texts of the result's warnings (2.19 writes each as ``{"event": {"msg": ...}, ...}``)."""
        return [w["event"]["msg"] if isinstance(w, dict) else w for w in self.result.get("warnings", [])]


def _forget_warnings():
    """AnsibleModule keeps the warnings of a run in module globals (a list before 2.19, a dict since): a second run
    in the same process would report the first one's too."""
    from ansible.module_utils.common import warnings  # pylint: disable=import-outside-toplevel

    for name in ("_global_warnings", "_global_deprecations"):
        getattr(warnings, name).clear()


@pytest.fixture
def run_module(capsys):
    """``run_module(args, function)``: call ``function()`` with ``args`` as the module arguments (and the
    exit inside the same context); returns a :class:`ModuleExit` with the result the module printed."""
    def run(args, function):
        _forget_warnings()
        ended = {}

        def keeping(real):
            def end(self, *a, **k):
                ended["params"] = dict(self.params)
                return real(self, *a, **k)
            return end
        with mock.patch.object(AnsibleModule, "exit_json", keeping(AnsibleModule.exit_json)), \
                mock.patch.object(AnsibleModule, "fail_json", keeping(AnsibleModule.fail_json)):
            with patch_module_args(args):
                with pytest.raises(SystemExit) as info:
                    function()
        out = capsys.readouterr().out
        return ModuleExit(json.loads(out), info.value.code, ended.get("params"))
    return run


@pytest.fixture
def module_args():
    """The ``patch_module_args`` context manager of the running ansible-core (or its fallback)."""
    return patch_module_args


@pytest.fixture
def fail_calls(monkeypatch):
    """The keyword arguments of every ``fail_json`` call, in order.  ansible-core 2.19 records ``exception`` apart
    from the printed result, so whether a failure carried a traceback is read here."""
    calls = []
    real = AnsibleModule.fail_json

    def record(self, *args, **kwargs):
        calls.append(dict(kwargs, msg=args[0]) if args else dict(kwargs))
        real(self, *args, **kwargs)
    monkeypatch.setattr(AnsibleModule, "fail_json", record)
    return calls
