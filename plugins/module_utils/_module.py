# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The module wrapper.  Private to backupops.veeam: not a public API.

:class:`VeeamModule` merges an API's connection options (``_client.Connection``: one set each for Enterprise
Manager, VB365 and VBR) and the wait options into a module's argument spec, applies the environment fallbacks
(``VEEAM_EM_SERVER``, ``VEEAM_EM_USERNAME``, ``VEEAM_EM_PASSWORD``, ``VEEAM_EM_VALIDATE_CERTS``,
``VEEAM_EM_CA_PATH``, ...; the same with ``VEEAM_M365_`` and ``VEEAM_VBR_``), marks secrets ``no_log``, checks
that requests and xmltodict are installed, builds the API's client and the job lifecycle, and turns every
``VeeamError`` into ``fail_json`` with a message a person can act on (and no traceback: those are for bugs).
The option names are a contract shared by every module: ``server``, ``port``, ``username``, ``password``,
``validate_certs``, ``ca_path``, ``timeout``, ``api_version``; ``wait``, ``wait_timeout``, ``poll_interval``.
"""

from __future__ import annotations

import inspect
import traceback

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib
from ansible.module_utils.errors import AnsibleFallbackNotFound

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils import _http
from ansible_collections.backupops.veeam.plugins.module_utils import _wire
from ansible_collections.backupops.veeam.plugins.module_utils._client import SECRET_OPTIONS
from ansible_collections.backupops.veeam.plugins.module_utils._errors import VeeamError
from ansible_collections.backupops.veeam.plugins.module_utils._jobs import Lifecycle, wanted_jobs
from ansible_collections.backupops.veeam.plugins.module_utils._poll import MIN_POLL_INTERVAL, Poller, check_seconds
from ansible_collections.backupops.veeam.plugins.module_utils._version import COLLECTION_VERSION


def _env_fallback(*names):
    """``env_fallback`` that treats an empty variable as unset (AWX injects every field of a credential, empty
    ones as ``""``, which would otherwise fail the type check of port, timeout or validate_certs)."""
    value = env_fallback(*names)
    if value is None or not str(value).strip():
        raise AnsibleFallbackNotFound
    return value


def connection_spec(conn):
    """The connection options of an API (a ``_client.Connection``), with their environment fallbacks."""
    spec = {}
    for name, kind, default, env in conn.shared_options():
        spec[name] = {"type": kind, "fallback": (_env_fallback, [env])}
        if default is not None:
            spec[name]["default"] = default
        if name in SECRET_OPTIONS:
            spec[name]["no_log"] = True
    spec["api_version"] = {"type": "str", "default": conn.default_version}
    if conn.versions:
        spec["api_version"]["choices"] = list(conn.versions)
    spec.update(conn.options)
    return spec


def wait_spec(default_wait):
    return {
        "wait": {"type": "bool", "default": default_wait},
        "wait_timeout": {"type": "int", "default": 3600},
        "poll_interval": {"type": "float", "default": 5.0},
    }


def jobs_spec(**per_job):
    """The ``jobs`` option: a list of jobs, each by ``job_id`` or ``job_name``, plus the API's per-job options."""
    options = {"job_id": {"type": "str"}, "job_name": {"type": "str"}}
    options.update(per_job)
    exclusive = [["job_id", "job_name"]] + ([["job_id", "organization"]] if "organization" in per_job else [])
    return {"type": "list", "elements": "dict", "options": options, "mutually_exclusive": exclusive,
            "required_one_of": [["job_id", "job_name"]]}


class VeeamModule:
    """An AnsibleModule with an API's shared options, its client, the job lifecycle, and VeeamError -> fail_json."""

    def __init__(self, conn, argument_spec, wait=None, **kwargs):
        spec = connection_spec(conn)
        if wait is not None:
            spec.update(wait_spec(wait))
        spec.update(argument_spec)
        self.conn = conn
        self.module = AnsibleModule(argument_spec=spec, **kwargs)
        self.params = self.module.params
        self.journal = E.Journal(sink=self.module.warn)
        self.transport = None
        if not _http.HAS_REQUESTS:
            self.module.fail_json(msg=missing_required_lib("requests"), exception=str(_http.REQUESTS_IMPORT_ERROR))
        if not _wire.HAS_XMLTODICT:
            self.module.fail_json(msg=missing_required_lib("xmltodict"),
                                  exception=str(_wire.XMLTODICT_IMPORT_ERROR))

    @property
    def check_mode(self):
        return self.module.check_mode

    @property
    def name(self):
        return getattr(self.module, "_name", "backupops.veeam")

    def warn(self, message):
        self.journal.warn(message)

    # ------------------------------------------------------------------ building blocks
    def client(self, **extra):
        """The API's client for this run (a context manager: log on when entered, off when left)."""
        p = self.params
        if not p["validate_certs"]:
            self.warn("validate_certs is false: the server's TLS certificate is not checked, so the connection "
                      "(and the credentials sent over it) can be intercepted; prefer ca_path")
        if not (p["server"] or "").strip():
            raise E.UsageError("No server given: set the server option (or module_defaults for group/backupops.veeam.%s) "
                               "or the %s_SERVER environment variable" % (self.conn.name, self.conn.env))
        base = _http.base_url(p["server"], p["port"], path=self.conn.base_path)
        transport = _http.Transport(base, validate_certs=p["validate_certs"], ca_path=p["ca_path"],
                                    timeout=p["timeout"],
                                    user_agent="ansible-backupops.veeam/%s (%s)" % (COLLECTION_VERSION, self.name))
        self.transport = transport
        return self.conn.connect(transport, p, self.journal, **extra)

    def poller(self, timeout=None):
        """A Poller for ``timeout`` seconds (default ``wait_timeout``) whose deadline also bounds the requests of
        every poll (a silent server cannot stretch the wait by its retries)."""
        return Poller(self.params["wait_timeout"] if timeout is None else timeout, self.params["poll_interval"],
                      bound=self.transport.bounded if self.transport is not None else None)

    def lifecycle(self, adapter, state):
        """The job lifecycle for ``state``, with this module's wait, if_running and fail_on_warning options."""
        p = self.params
        return Lifecycle(adapter, state, self.journal, poller=self.poller, wait=p.get("wait", True),
                         wait_timeout=p.get("wait_timeout"), if_running=p.get("if_running") or "skip",
                         fail_on_warning=bool(p.get("fail_on_warning")), check_mode=self.check_mode)

    def bring_jobs(self, adapter, state, inherited=(), by_name_only=()):
        """The whole job-state task: find the jobs of ``job_id`` / ``job_name`` / ``jobs`` and bring each into
        ``state`` with the lifecycle; ``adapter(client)`` makes the API's adapter.  ``inherited`` task options apply
        to the entries of ``jobs`` that do not set their own (``by_name_only`` ones only to entries given by name)."""
        p = self.params
        if state != "started" and (p.get("full") or any((entry or {}).get("full") for entry in p.get("jobs") or [])):
            raise E.UsageError("full applies to state: started only")
        with self.client() as client:
            wanted = wanted_jobs(p, inherited=inherited, by_name_only=by_name_only)
            return self.lifecycle(adapter(client), state).run(wanted, many=bool(p.get("jobs")))

    def finish_wait(self, waited, result, what, details, hint="Run the task again to go on waiting (nothing is sent twice)"):
        """After a wait for one thing (a ``_poll.WaitResult``): its time and history into ``result``, and a
        WaitTimeoutError naming ``what`` and its last state when the wait ran out.  Returns the last value."""
        result.update(elapsed=waited.elapsed, history=waited.history)
        if not waited.done:
            state = waited.history[-1]["state"] if waited.history else "unknown"
            raise E.WaitTimeoutError("%s was still %s after %.0f s (wait_timeout %s s)%s" % (
                what, state, waited.elapsed, self.params["wait_timeout"],
                "; the last poll failed: %s" % waited.error if waited.error else ""),
                hint=hint, details=dict(result, **details))
        return waited.value

    def validate(self):
        """Reject numbers no run can use (zero, negative, nan, inf) before anything is sent."""
        p = self.params
        check_seconds("timeout", p["timeout"])
        if p.get("wait_timeout") is not None:
            check_seconds("wait_timeout", p["wait_timeout"])
        if p.get("poll_interval") is not None:
            check_seconds("poll_interval", p["poll_interval"], MIN_POLL_INTERVAL)

    # ------------------------------------------------------------------ results
    def run(self, body):
        """Run ``body(self)`` -> result dict; exit with it, or fail with the VeeamError it raised."""
        failure = bug = None
        try:
            self.validate()
            result = body(self)
        except VeeamError as err:
            failure = err
        except Exception as exc:  # pylint: disable=broad-exception-caught
            bug = (exc, traceback.format_exc())
        # Outside the except blocks: a failure the modules expect carries no traceback (ansible-core 2.19 and later
        # record the exception being handled); only a bug of ours does.
        if failure is not None:
            self.fail(failure)
        if bug is not None:
            self.module.fail_json(msg="Unexpected error in %s: %s: %s (please report this as a bug)"
                                  % (self.name, type(bug[0]).__name__, bug[0]), exception=bug[1])
        self.module.exit_json(**result)

    def fail(self, err):
        """fail_json with the error; an error after a change says first what changed, with changed: true."""
        result = err.to_result()
        msg, result["changed"] = self.journal.annotate(err)
        if "exception" in inspect.signature(self.module.fail_json).parameters:
            # ansible-core 2.19 and later take it, and record a traceback unless it is given
            result["exception"] = ""
        self.module.fail_json(msg=msg, **result)
