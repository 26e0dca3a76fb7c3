# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The event source ``backupops.veeam.job_sessions``, without its asyncio shell.  Private to backupops.veeam: not a
public API.

:class:`Watcher` turns the job sessions that ended on one Veeam server into events, one poll at a time
(:meth:`Watcher.step`), through the collection's own clients (``_em``, ``_vbr``, ``_m365``: their ``feed``, see
``_client.Connection``), with one logon session or token kept across polls and renewed by the client.  The
extension file (``extensions/eda/plugins/event_source/job_sessions.py``) runs ``step`` in a worker thread and puts
the events on ansible-rulebook's queue.

Which sessions are new, for every API alike:

* ``floor``: sessions that ended before it are never reported.  It starts at ``since``, or in "from now" mode at
  this machine's clock minus ``lookback``; it then follows the newest end seen (the server's clock), less
  ``lookback``, so that a session the server lists late (Enterprise Manager collects from its backup servers) is
  still found.  It never goes back.
* ``seen``: the ids of the sessions already handled whose end is not below ``floor`` (older ones can no longer be
  listed, so they are forgotten): a session is reported once in a run.
* In "from now" mode the first poll reports nothing: what it finds had ended before the source started, and goes
  into ``seen``.
* ``checkpoint``: ``floor`` and ``seen`` in a file (JSON, mode 0600, replaced atomically), written before the
  events of a poll are handed on: a restarted source goes on where the last one stopped, and never reports a
  session twice (an event whose poll was written down but that was not handed on, because the process died in
  between, is lost: at most once, never twice).

Errors: wrong credentials, a refused role, bad arguments and a TLS failure end the source (:class:`SourceError`,
with the client's message and hint); anything else (the server down, slow, answering garbage) is logged and
tried again after a pause that doubles up to ``max_backoff``.  Nothing logged carries a password or a token: the
collection's errors are built from its own words, Veeam's messages, methods and paths.
"""

from __future__ import annotations

import datetime
import fnmatch
import json
import logging
import os
import tempfile
import threading
import time

from ansible_collections.backupops.veeam.plugins.module_utils import _em, _errors as E, _http, _m365, _vbr
from ansible_collections.backupops.veeam.plugins.module_utils import _wire as W
from ansible_collections.backupops.veeam.plugins.module_utils._errors import VeeamError
from ansible_collections.backupops.veeam.plugins.module_utils._poll import MIN_POLL_INTERVAL, check_seconds
from ansible_collections.backupops.veeam.plugins.module_utils._version import COLLECTION_VERSION

NAME = "backupops.veeam.job_sessions"
LOG = logging.getLogger(NAME)

CONNECTIONS = {conn.name: conn for conn in (_em.CONNECTION, _vbr.CONNECTION, _m365.CONNECTION)}
RESULTS = ("Success", "Warning", "Failed")
DEFAULTS = {"interval": 60.0, "lookback": 900.0, "max_backoff": 600.0}
#: The source's own arguments besides the connection options (``server``, ``port``, ...; ``api_version``).
OWN_ARGS = ("api", "interval", "since", "lookback", "checkpoint", "result", "job_name", "max_backoff")
#: Errors that no pause cures: they end the source.  At the logon a 404 does too (a wrong port, path or version).
FATAL = (E.AuthError, E.ForbiddenError, E.UsageError, E.TlsError)
CHECKPOINT_FORMAT = 1
_TRUE = ("true", "yes", "on", "1", "y", "t")
_FALSE = ("false", "no", "off", "0", "n", "f")


class SourceError(Exception):
    """The source cannot go on (wrong credentials, bad arguments, ...): ansible-rulebook shows the message and
    stops."""


def _unset(value):
    return value is None or (isinstance(value, str) and not value.strip())


def _number(name, value, minimum=0.0):
    return check_seconds(name, value, minimum)


def _boolean(name, value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise E.UsageError("%s must be true or false, got %r" % (name, value))


def _words(name, value):
    """A string or a list of strings (an argument that takes one or several) -> list of non-empty strings."""
    if _unset(value):
        return []
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    words = [str(item).strip() for item in items if not _unset(item)]
    if not words:
        raise E.UsageError("%s is empty" % name)
    return words


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def connection_params(conn, args, environ):
    """The connection options of the API ``conn`` from the source's arguments, else from the environment
    variables the modules read (``VEEAM_EM_SERVER``, ...; an empty one counts as unset), else their defaults."""
    params = {"session_token": None, "logon_session_id": None}
    for name, kind, default, env in conn.shared_options():
        value = args.get(name)
        if _unset(value):
            value = environ.get(env)
        if _unset(value):
            value = default
        if value is None:
            params[name] = None
        elif kind == "int":
            try:
                params[name] = int(str(value).strip())
            except ValueError:
                raise E.UsageError("%s must be a whole number, got %r" % (name, value)) from None
        elif kind == "float":
            params[name] = _number(name, value)
        elif kind == "bool":
            params[name] = _boolean(name, value)
        elif kind == "path":
            params[name] = os.path.expanduser(str(value))
        else:
            params[name] = str(value)
    version = args.get("api_version")
    params["api_version"] = conn.default_version if _unset(version) else str(version).strip()
    if conn.versions and params["api_version"] not in conn.versions:
        raise E.UsageError("api_version %r is not one of %s" % (params["api_version"], ", ".join(conn.versions)))
    if _unset(params["server"]):
        raise E.UsageError("No server given: set server in the source's arguments or the %s_SERVER environment "
                           "variable" % conn.env)
    for name in ("username", "password"):
        if _unset(params[name]):
            raise E.UsageError("%s is required: set it in the source's arguments or the %s_%s environment variable"
                               % (name, conn.env, name.upper()))
    return params


class Settings:
    """The source's arguments, checked: every problem is a UsageError before anything is sent."""

    def __init__(self, args, environ):
        args = {k: v for k, v in dict(args or {}).items() if not str(k).startswith("eda_")}
        api = str(args.get("api") or "").strip().lower()
        if api not in CONNECTIONS:
            raise E.UsageError("api must be one of %s, got %r" % (", ".join(sorted(CONNECTIONS)), args.get("api")))
        self.conn = CONNECTIONS[api]
        known = set(OWN_ARGS) | {name for name, _kind, _default, _env in self.conn.shared_options()} | {"api_version"}
        unknown = sorted(str(k) for k in args if k not in known)
        if unknown:
            raise E.UsageError("unknown argument%s %s; the source takes %s" % (
                "s" if len(unknown) > 1 else "", ", ".join(unknown), ", ".join(sorted(known))))
        self.api = api
        self.params = connection_params(self.conn, args, environ)
        self.server = _http.base_url(self.params["server"], self.params["port"], path=self.conn.base_path)

        def seconds(name, minimum=0.0):
            return _number(name, DEFAULTS[name] if _unset(args.get(name)) else args[name], minimum)
        self.interval = seconds("interval", MIN_POLL_INTERVAL)
        self.lookback = seconds("lookback")
        self.max_backoff = max(seconds("max_backoff"), self.interval)
        self.since = None
        if not _unset(args.get("since")):
            self.since = W.parse_time(args["since"])
            if self.since is None:
                raise E.UsageError("since %r is not an ISO 8601 date and time such as 2026-11-20T22:00:00Z"
                                   % args["since"])
        self.results = []
        for word in _words("result", args.get("result")):
            match = [r for r in RESULTS if r.lower() == word.lower()]
            if not match:
                raise E.UsageError("result %r is not one of %s" % (word, ", ".join(RESULTS)))
            self.results.append(match[0])
        self.job_names = _words("job_name", args.get("job_name"))
        self.checkpoint = None if _unset(args.get("checkpoint")) else Checkpoint(str(args["checkpoint"]))

    def wanted(self, job, session):
        """Whether an ended session passes the ``result`` and ``job_name`` filters."""
        if self.results and session.get("result") not in self.results:
            return False
        if self.job_names:
            name = str(job.get("name") or "").casefold()
            return any(fnmatch.fnmatchcase(name, pattern.casefold()) for pattern in self.job_names)
        return True

    def starting_point(self):
        if self.checkpoint is not None and self.checkpoint.exists():
            return "where the checkpoint %s left off" % self.checkpoint.path
        if self.since is not None:
            return "sessions that ended since %s" % W.format_time(self.since)
        return "now"


class Checkpoint:
    """Where a run stopped: ``floor`` and ``seen`` (see the module's docstring) in a JSON file of mode 0600, for one
    API and server, replaced atomically (a temporary file in the same directory, flushed to disk, renamed)."""

    def __init__(self, path):
        self.path = os.path.abspath(os.path.expanduser(path))
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            raise E.UsageError("checkpoint %s: the directory %s does not exist" % (self.path, directory))
        if not os.access(directory, os.W_OK | os.X_OK):
            raise E.UsageError("checkpoint %s: the directory %s is not writable" % (self.path, directory))

    def exists(self):
        return os.path.exists(self.path)

    def load(self, api, server):
        """``(floor, seen)`` of the file, or None when there is none; a file that is not a checkpoint of this API
        and server is a UsageError (deleting it starts afresh)."""
        if not self.exists():
            return None
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
            if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
                raise ValueError("not a checkpoint of format %d" % CHECKPOINT_FORMAT)
            floor = W.parse_time(data.get("floor"))
            seen = data.get("seen")
            if floor is None or not isinstance(seen, dict) or not all(
                    isinstance(k, str) and W.parse_time(v) is not None for k, v in seen.items()):
                raise ValueError("its floor or seen sessions are missing or malformed")
        except (OSError, ValueError) as err:
            raise E.UsageError("checkpoint %s cannot be read (%s): delete it to start afresh, or give another file"
                               % (self.path, err)) from None
        if (data.get("api"), data.get("server")) != (api, server):
            raise E.UsageError("checkpoint %s belongs to api %s on %s, not to api %s on %s: give each source its own "
                               "file" % (self.path, data.get("api"), data.get("server"), api, server))
        return floor, {key: W.parse_time(value) for key, value in seen.items()}

    def save(self, api, server, floor, seen):
        data = {"format": CHECKPOINT_FORMAT, "api": api, "server": server, "floor": _iso(floor),
                "seen": {key: _iso(value) for key, value in sorted(seen.items())}, "written": _iso(_utc_now())}
        directory, base = os.path.split(self.path)
        handle, temporary = tempfile.mkstemp(prefix=".%s." % base, suffix=".tmp", dir=directory)  # mode 0600
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=1, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise


def _iso(moment):
    return moment.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


class Watcher:
    """One Veeam server's ended job sessions as events, one :meth:`step` at a time (see the module's docstring).

    ``clock`` (monotonic seconds) and ``now`` (an aware UTC datetime) are the machine's clocks (tests pass their
    own); ``environ`` is where the connection options' environment variables are read.
    """

    def __init__(self, args, environ=None, clock=time.monotonic, now=_utc_now):
        if not _http.HAS_REQUESTS or not W.HAS_XMLTODICT:
            raise E.UsageError("%s needs the Python libraries requests and xmltodict where ansible-rulebook runs (in "
                               "the decision environment): pip install requests xmltodict" % NAME)
        self.settings = Settings(args, os.environ if environ is None else environ)
        self.clock = clock
        self.now = now
        self.journal = E.Journal(sink=LOG.warning)
        self.stop = threading.Event()
        self.client = None
        self.feed = None
        self.failures = 0
        self.first_error = None
        s = self.settings
        restored = s.checkpoint.load(s.api, s.server) if s.checkpoint is not None else None
        if restored is not None:
            self.floor, self.seen = restored
            self.baseline = False
        else:
            self.floor = s.since if s.since is not None else self.now() - datetime.timedelta(seconds=s.lookback)
            self.seen = {}
            self.baseline = s.since is None  # "from now": the first poll only learns what had ended already
        self.newest = None
        if s.checkpoint is not None and restored is None:
            s.checkpoint.save(s.api, s.server, self.floor, self.seen)  # fails now, not after the first events
        if not s.params["validate_certs"]:
            LOG.warning("%s: validate_certs is false: the TLS certificate of %s is not checked, so the connection "
                        "(and the credentials sent over it) can be intercepted; prefer ca_path", NAME, s.server)
        LOG.info("%s: watching %s %s for job sessions that end, every %.3g s, starting from %s", NAME,
                 s.conn.product, s.server, s.interval, s.starting_point())

    # ------------------------------------------------------------------ the client
    def _connect(self):
        """The API's client, logged on: made once and kept across polls (the client renews its logon session or
        token itself); made again after a logon that failed."""
        if self.client is not None:
            return self.client
        s = self.settings
        transport = _http.Transport(s.server, validate_certs=s.params["validate_certs"], ca_path=s.params["ca_path"],
                                    timeout=s.params["timeout"], retry=_http.RetryPolicy(sleep=self.stop.wait),
                                    user_agent="ansible-backupops.veeam/%s (%s)" % (COLLECTION_VERSION, NAME))
        try:
            client = s.conn.connect(transport, s.params, self.journal)
            client.__enter__()
        except E.NotFoundError as err:
            transport.close()
            raise E.UsageError(str(err)) from None
        except BaseException:
            transport.close()
            raise
        self.client, self.feed = client, s.conn.feed(client)
        return client

    def close(self):
        """Log off (end the logon session or log the token out); any failure is logged, never raised."""
        self.stop.set()
        client, self.client, self.feed = self.client, None, None
        if client is not None:
            try:
                client.__exit__(None, None, None)
                LOG.info("%s: logged off from %s %s", NAME, self.settings.conn.product, self.settings.server)
            except Exception as err:  # pylint: disable=broad-exception-caught
                LOG.warning("%s: could not log off from %s: %s", NAME, self.settings.server, err)
        self._flush_journal()

    def _flush_journal(self):
        self.journal.warnings.clear()
        self.journal.changes.clear()

    # ------------------------------------------------------------------ one poll
    def poll(self):
        """One poll: the events of the sessions that ended since the last one (raises what the client raises)."""
        s = self.settings
        self._connect()
        pairs = self.feed.ended(self.floor)
        now = self.now()
        events = []
        fresh = []
        for job, session in pairs:
            ended = W.parse_time(session.get("end_time")) or now
            key = str(session.get("id") or "").lower()
            if not key or ended < self.floor or key in self.seen:
                continue
            self.seen[key] = ended
            fresh.append((ended, job, session))
        for ended, job, session in sorted(fresh, key=lambda item: item[0]):
            self.newest = ended if self.newest is None else max(self.newest, ended)
            if not self.baseline and s.wanted(job, session):
                events.append(self.event(job, session))
        if self.baseline:
            LOG.info("%s: %d job sessions had ended before the source started; from now on every session that ends "
                     "is reported", NAME, len(fresh))
        self.baseline = False
        before = (self.floor, len(self.seen))
        if self.newest is not None:
            self.floor = max(self.floor, self.newest - datetime.timedelta(seconds=s.lookback))
        self.seen = {key: ended for key, ended in self.seen.items() if ended >= self.floor}
        if s.checkpoint is not None and (fresh or (self.floor, len(self.seen)) != before):
            try:
                s.checkpoint.save(s.api, s.server, self.floor, self.seen)
            except OSError as err:
                LOG.error("%s: could not write the checkpoint %s (%s): after a restart, the sessions of this poll "
                          "may be reported again", NAME, s.checkpoint.path, err)
        return events

    def event(self, job, session):
        """The event of one ended session, in the words of docs/vocabulary.md (``started`` is the session's
        ``creation_time``, ``ended`` its ``end_time``)."""
        return {"veeam": {
            "api": self.settings.api,
            "server": self.settings.server,
            "job": {"id": job.get("id"), "name": job.get("name"), "type": job.get("type")},
            "session": {"id": session.get("id"), "state": session.get("state"), "result": session.get("result"),
                        "message": session.get("message"), "started": session.get("creation_time"),
                        "ended": session.get("end_time")},
        }}

    def step(self):
        """One poll and the pause before the next: ``(events, seconds)``.  A failure that a pause may cure is
        logged and answered with a longer pause (doubling from twice ``interval`` up to ``max_backoff``); one that
        cannot be cured raises :class:`SourceError`."""
        s = self.settings
        started = self.clock()
        logged_on = self.client is not None
        try:
            events = self.poll()
        except FATAL as err:
            self.close()
            raise SourceError("%s stopped: %s" % (NAME, err)) from None
        except VeeamError as err:
            self.failures += 1
            pause = min(s.max_backoff, s.interval * 2 ** self.failures)
            if self.failures == 1:
                self.first_error = self.now()
            LOG.warning("%s: %s %s: %s%s; trying again in %.3g s (failure %d in a row)", NAME, s.conn.product,
                        s.server, "logon failed: " if not logged_on and self.client is None else "", err, pause,
                        self.failures)
            return [], pause
        finally:
            self._flush_journal()
        if self.failures:
            LOG.warning("%s: %s %s answers again, after %d failed polls since %s", NAME, s.conn.product, s.server,
                        self.failures, _iso(self.first_error))
            self.failures = 0
        if events:
            LOG.info("%s: %d job session%s ended", NAME, len(events), "" if len(events) == 1 else "s")
        return events, max(0.0, s.interval - (self.clock() - started))
