# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The module wrapper.  Private to backupops.veeam: not a public API.

:class:`VeeamModule` merges the shared connection options (one set for Enterprise Manager, one for VB365) and
the wait options into a module's argument spec, applies the environment fallbacks (``VEEAM_EM_SERVER``,
``VEEAM_EM_USERNAME``, ``VEEAM_EM_PASSWORD``, ``VEEAM_EM_VALIDATE_CERTS``, ``VEEAM_EM_CA_PATH``, ...; the same
with ``VEEAM_M365_``), marks secrets ``no_log``, checks that requests and xmltodict are installed, builds the
clients, and turns every ``VeeamError`` into ``fail_json`` with a message a person can act on.  The option
names are a contract shared by every module: ``server``, ``port``, ``username``, ``password``,
``validate_certs``, ``ca_path``, ``timeout``, ``api_version``; ``session_token`` (EM); ``wait``,
``wait_timeout``, ``poll_interval``.
"""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib
from ansible.module_utils.errors import AnsibleFallbackNotFound

from ansible_collections.backupops.veeam.plugins.module_utils import _em
from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils import _http
from ansible_collections.backupops.veeam.plugins.module_utils import _wire
from ansible_collections.backupops.veeam.plugins.module_utils._errors import VeeamError
from ansible_collections.backupops.veeam.plugins.module_utils._poll import Poller

COLLECTION_VERSION = "0.1.0"


def _env_fallback(*names):
    """``env_fallback`` that treats an empty variable as unset (AWX injects every field of a credential, empty
    ones as ``""``, which would otherwise fail the type check of port, timeout or validate_certs)."""
    value = env_fallback(*names)
    if value is None or not str(value).strip():
        raise AnsibleFallbackNotFound
    return value


def _connection_spec(prefix, default_port, api_versions, default_version):
    def env(name):
        return (_env_fallback, ["%s_%s" % (prefix, name)])
    return {
        "server": {"type": "str", "fallback": env("SERVER")},
        "port": {"type": "int", "default": default_port, "fallback": env("PORT")},
        "username": {"type": "str", "fallback": env("USERNAME")},
        "password": {"type": "str", "no_log": True, "fallback": env("PASSWORD")},
        "validate_certs": {"type": "bool", "default": True, "fallback": env("VALIDATE_CERTS")},
        "ca_path": {"type": "path", "fallback": env("CA_PATH")},
        "timeout": {"type": "float", "default": 30.0, "fallback": env("TIMEOUT")},
        "api_version": {"type": "str", "default": default_version, "choices": list(api_versions)},
    }


EM_ARGSPEC = _connection_spec("VEEAM_EM", _em.DEFAULT_PORT, _em.API_VERSIONS, "latest")
EM_ARGSPEC["session_token"] = {"type": "str", "no_log": True}


def _load_m365():
    """The VB365 client module, imported when first needed: Enterprise Manager modules never load it (a module's
    imports are part of what every task costs)."""
    from ansible_collections.backupops.veeam.plugins.module_utils import _m365 as m365
    return m365


def m365_argspec():
    """The VB365 connection options, built on first use (see ``_load_m365``); also ``M365_ARGSPEC``."""
    spec = globals().get("M365_ARGSPEC")
    if spec is None:
        m365 = _load_m365()
        spec = globals()["M365_ARGSPEC"] = _connection_spec("VEEAM_M365", m365.DEFAULT_PORT, m365.API_VERSIONS, "v8")
    return spec


def __getattr__(name):
    if name == "M365_ARGSPEC":
        return m365_argspec()
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def wait_argspec(default_wait):
    return {
        "wait": {"type": "bool", "default": default_wait},
        "wait_timeout": {"type": "int", "default": 3600},
        "poll_interval": {"type": "float", "default": 5.0},
    }


class VeeamModule:
    """An AnsibleModule with the shared options, the clients, and VeeamError -> fail_json."""

    def __init__(self, api, argument_spec, wait=None, **kwargs):
        spec = dict(EM_ARGSPEC if api == "em" else m365_argspec())
        if wait is not None:
            spec.update(wait_argspec(wait))
        spec.update(argument_spec)
        self.api = api
        self.module = AnsibleModule(argument_spec=spec, **kwargs)
        self.params = self.module.params
        self.warnings = []
        self.clients = []  # the clients this run built: fail() tells what they changed before an error
        if not _http.HAS_REQUESTS:
            self.module.fail_json(msg=missing_required_lib("requests"), exception=str(_http.REQUESTS_IMPORT_ERROR))
        if not _wire.HAS_XMLTODICT:
            self.module.fail_json(msg=missing_required_lib("xmltodict"),
                                  exception=str(_wire.XMLTODICT_IMPORT_ERROR))

    @property
    def check_mode(self):
        return self.module.check_mode

    def warn(self, message):
        if message not in self.warnings:
            self.warnings.append(message)
            self.module.warn(message)

    # ------------------------------------------------------------------ clients
    def transport(self):
        p = self.params
        if p["timeout"] is None or p["timeout"] <= 0:
            raise VeeamError("timeout must be a positive number of seconds, got %r" % p["timeout"], kind=E.USAGE)
        if not p["validate_certs"]:
            self.warn("validate_certs is false: the server's TLS certificate is not checked, so the connection "
                      "(and the credentials sent over it) can be intercepted; prefer ca_path")
        if not (p["server"] or "").strip():
            prefix = "VEEAM_EM" if self.api == "em" else "VEEAM_M365"
            raise VeeamError("No server given: set the server option (or module_defaults for group/backupops.veeam.%s) "
                             "or the %s_SERVER environment variable" % (self.api, prefix), kind=E.USAGE)
        base = _http.base_url(p["server"], p["port"], path="/api" if self.api == "em" else "")
        return _http.Transport(base, validate_certs=p["validate_certs"], ca_path=p["ca_path"], timeout=p["timeout"],
                               user_agent="ansible-backupops.veeam/%s (%s)" % (COLLECTION_VERSION, self.name))

    @property
    def name(self):
        return getattr(self.module, "_name", "backupops.veeam")

    def em(self, logoff=None):
        """An Enterprise Manager client (a context manager: logon on enter unless session_token, logoff on exit)."""
        p = self.params
        client = _em.EnterpriseManager(self.transport(), username=p["username"], password=p["password"],
                                       api_version=p["api_version"], session_token=p.get("session_token"),
                                       logoff=logoff, warn=self.warn)
        self.clients.append(client)
        return client

    def m365(self):
        """A VB365 client (a context manager: login on enter, logout on exit from v7)."""
        p = self.params
        client = _load_m365().Vb365(self.transport(), p["username"], p["password"],
                                    api_version=p["api_version"], warn=self.warn)
        self.clients.append(client)
        return client

    def poller(self):
        return Poller(self.params["wait_timeout"], self.params["poll_interval"])

    def validate_wait(self):
        """Reject zero or negative wait options before any change is made."""
        p = self.params
        if p.get("wait_timeout") is not None and p["wait_timeout"] <= 0:
            raise VeeamError("wait_timeout must be a positive number of seconds, got %r" % p["wait_timeout"],
                             kind=E.USAGE)
        if p.get("poll_interval") is not None and p["poll_interval"] <= 0:
            raise VeeamError("poll_interval must be a positive number of seconds, got %r" % p["poll_interval"],
                             kind=E.USAGE)

    # ------------------------------------------------------------------ results
    def run(self, body):
        """Run ``body(self)`` -> result dict; exit with it, or fail with the VeeamError it raised."""
        try:
            self.validate_wait()
            result = body(self)
        except VeeamError as err:
            self.fail(err)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # A bug of ours: say so plainly instead of a bare traceback; the traceback goes to -vvv output.
            self.module.fail_json(msg="Unexpected error in %s: %s: %s (please report this as a bug)"
                                  % (self.name, type(exc).__name__, exc), exception=traceback.format_exc())
        self.module.exit_json(**result)

    def fail(self, err, **extra):
        """fail_json with the error; an error after a job was started says so first, with changed: true (unless the
        error itself tells what changed)."""
        result = err.to_result()
        result.update(extra)
        msg = str(err)
        started = [item for client in self.clients for item in getattr(client, "started", [])]
        if started and "changed" not in result:
            msg = "Started %s, then: %s" % (", ".join("job %r%s" % (name, " (task %s)" % task if task else "")
                                                      for name, task in started), msg)
            result["changed"] = True
        result.setdefault("changed", False)
        self.module.fail_json(msg=msg, **result)
