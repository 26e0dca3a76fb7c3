# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The base of the API clients.  Private to backupops.veeam: not a public API.

:class:`Client` is what the Enterprise Manager, VB365 and VBR clients share: one authenticated request
(``call``), renewed once through the authenticator when the server answers 401 (a 401 means the server did
nothing with the request, so sending it again after a new logon cannot double an action), error statuses mapped
to typed errors with Veeam's own message (:func:`status_error`), documents read and checked for emptiness
(``get``), and the logon/logoff around a module run (a context manager).  What to ask each API is in its own
client; how to ask is ``_http``; what came back is ``_wire``; tokens and sessions are ``_auth``.
"""

from __future__ import annotations

import json
import re
import urllib.parse

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils import _wire as W
from ansible_collections.backupops.veeam.plugins.module_utils._errors import VeeamError

_ID_SEGMENT = re.compile(r"/(task-\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?=/|$)")


def shown_path(path):
    """A path as error messages show it: no scheme/host, no query string, ids replaced by ``{id}``."""
    parts = urllib.parse.urlsplit(path or "")
    return _ID_SEGMENT.sub("/{id}", parts.path or "/")


def veeam_message(resp):
    """``(message, code)`` of Veeam's error body in ``resp`` (EM ``Error``, VB365 ``RESTExceptionInfo``, VBR
    ``Error``, OAuth), or ``(None, None)``."""
    try:
        return W.error_text(W.parse(resp.body, resp.content_type, "error response"))
    except VeeamError:
        return None, None


#: The most pages a list is read in: a server that never stops paging is not followed for ever.
MAX_PAGES = 200


def collect_pages(read_page, what, max_pages=MAX_PAGES):
    """Every item of a paged list.  ``read_page(offset, number)`` reads the page at ``offset`` (items so far) and
    ``number`` (from 1) and returns ``(items, more)``: ``more`` is what the page says about pages after it (full,
    or a page count not reached).  Reading stops when a page says there is no more or is empty.  A page that says
    there is more but brings nothing new (a server that ignores the offset sends the same page again) is refused,
    as is a list still going after ``max_pages`` pages: either way the list cannot be read whole, and a job
    looked for could be on a page never read.  Items are told apart by ``id`` (or their whole content)."""
    items, seen = [], set()
    for number in range(1, max_pages + 1):
        page, more = read_page(len(items), number)
        new = []
        for item in page:
            key = item.get("id") if isinstance(item, dict) and item.get("id") else json.dumps(item, sort_keys=True,
                                                                                              default=str)
            if key not in seen:
                seen.add(key)
                new.append(item)
        items.extend(new)
        if not more or not page:
            return items
        if not new:
            raise E.ParseError("The server sent page %d of %s with nothing new: the items of page %d again, although "
                               "it said there were more (it ignores the offset of the request?); %d items were read, "
                               "and the rest of the list cannot be" % (number, what, number - 1, len(items)),
                               hint="Check the server (a proxy that caches answers by path alone does this)")
    raise E.ParseError("The server kept sending pages of %s: %d pages (%d items) were read, and it still said there "
                       "were more" % (what, max_pages, len(items)))


def retry_after(resp):
    """The seconds of a ``Retry-After`` header (a number), or None."""
    try:
        return float(resp.header("Retry-After"))
    except (TypeError, ValueError):
        return None


def status_error(resp, text, hint=None, conflict_codes=()):
    """The typed error for an error status: ``text`` plus Veeam's own message, the status, method and path; for a
    redirect, where to (a server behind a proxy or login page); for 429 and 503, when the server takes requests
    again.  A Veeam error code in ``conflict_codes`` makes it a ConflictError whatever the status."""
    message, code = veeam_message(resp)
    cls = E.ConflictError if code in conflict_codes else E.for_status(resp.status)
    if message:
        text += ": " + message.rstrip(".")
    if 300 <= resp.status < 400:
        location = urllib.parse.urlsplit(resp.header("Location") or "")
        if location.netloc or location.path:
            text += "; the server redirects to %s" % urllib.parse.urlunsplit(
                (location.scheme, location.netloc.rsplit("@", 1)[-1], location.path, "", ""))
            hint = hint or "Is server the REST API's own address (not a portal or a proxy's login page)?"
    after = retry_after(resp) if resp.status in (429, 503) else None
    if after is not None:
        text += "; it asks to wait %.0f s before the next request (Retry-After)" % after
    return cls(text, status=resp.status, method=resp.method, path=shown_path(resp.path), veeam_message=message,
               veeam_code=code, hint=hint)


def document(resp, noun, product):
    """The parsed body of a successful answer.  Veeam answers every read with a document, so an empty body is an
    error (read as "nothing", it would claim that a job does not exist, or keep a wait going)."""
    data = W.parse(resp.body, resp.content_type, noun)
    if data is None:
        raise E.ParseError("%s sent an empty answer instead of the %s" % (product, noun), status=resp.status,
                           method=resp.method, path=shown_path(resp.path))
    return data


class Client:
    """One API session for one module run: a context manager that logs on when entered and off when left.

    Subclasses set ``product`` (the name messages use), ``accept`` (the ``Accept`` header) and may add
    ``extra_headers()``, ``hint(resp)`` (what to do about an error status) and ``conflict_codes`` (Veeam error
    codes that mean "refused because of the object's state").
    """

    product = "Veeam"
    accept = "application/json"
    conflict_codes = ()

    def __init__(self, transport, auth, journal):
        self.t = transport
        self.auth = auth
        self.journal = journal

    def warn(self, text):
        self.journal.warn(text)

    def __enter__(self):
        self.auth.begin()
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.auth.end()
        except VeeamError as err:
            self.warn(self.auth.end_failed(err))
        finally:
            self.t.close()
        return False

    def extra_headers(self):
        return {}

    def hint(self, resp):  # pylint: disable=unused-argument
        return None

    def _send(self, method, path, shown, safe, json_body, data, headers):
        sent = {"Accept": self.accept}
        sent.update(self.extra_headers())
        sent.update(headers or {})
        sent.update(self.auth.headers())
        return self.t.request(method, path, json_body=json_body, data=data, headers=sent, safe=safe, display_path=shown)

    def call(self, method, path, expect=(200,), what="response", safe=None, json_body=None, data=None, headers=None):
        """One authenticated request; one renewal and retry on 401; an error status raises its typed error with
        "<product> could not return the <what>" (GET) or "<product> refused <what>" (anything else)."""
        self.auth.refresh_if_due()
        shown = shown_path(path)
        resp = self._send(method, path, shown, safe, json_body, data, headers)
        if resp.status == 401 and self.auth.can_renew:
            self.auth.renew()
            resp = self._send(method, path, shown, safe, json_body, data, headers)
        if resp.status not in expect:
            raise self.error(resp, ("%s could not return the %s" % (self.product, what)) if method == "GET"
                             else ("%s refused %s" % (self.product, what)))
        return resp

    def error(self, resp, text):
        return status_error(resp, text, hint=self.hint(resp), conflict_codes=self.conflict_codes)

    def get(self, path, what="response", noun=None, expect=(200,)):
        """GET a document.  ``what`` names it in "<product> could not return the <what>", ``noun`` (default
        ``what``) in the parse errors: "The server sent a <noun> that is not valid JSON"."""
        resp = self.call("GET", path, expect=expect, what=what)
        return document(resp, noun or what, self.product)


def credentials(params, env, alternative=None):
    """``(username, password)`` from the module's options, or a UsageError before anything is sent that names
    their environment variables (prefix ``env``) and ``alternative``, what may stand in for them."""
    if not (params.get("username") and params.get("password")):
        raise E.UsageError("username and password are required: set the options (or module_defaults) or the %s_USERNAME "
                           "and %s_PASSWORD environment variables%s" % (env, env, "; or give %s" % alternative
                                                                        if alternative else ""))
    return params["username"], params["password"]


#: The connection options every API shares: ``(name, type, default)``; ``port``'s default is the API's own
#: (``Connection.port``).  Each falls back on the environment variable ``<Connection.env>_<NAME>``
#: (``VEEAM_EM_SERVER``); ``api_version`` (default ``Connection.default_version``) has no such fallback.  The
#: modules (``_module.connection_spec``) and the event source read them from here.
CONNECTION_OPTIONS = (("server", "str", None), ("port", "int", None), ("username", "str", None),
                      ("password", "str", None), ("validate_certs", "bool", True), ("ca_path", "path", None),
                      ("timeout", "float", 30.0))
#: The options whose values are secrets (never shown).
SECRET_OPTIONS = frozenset(("password",))


class Connection:
    """What the module wrapper needs to know of an API: its connection options and how to build its client.

    ``name``: the action group and the word modules use (``em``); ``env``: the prefix of the environment
    variables (``VEEAM_EM``); ``port``, ``versions`` and ``default_version``: the ``port`` and ``api_version``
    options (``versions`` None: any value, which ``connect`` checks); ``base_path``: the path every request starts
    with; ``options``: the API's own connection options (argument spec entries);
    ``connect(transport, params, journal, **extra)``: the client, not yet entered; ``feed(client)``: what the event
    source (``plugin_utils/_job_sessions.py``) asks for the job sessions that ended (``ended(since)``: ``(job,
    session)`` pairs, ``job`` with ``id``, ``name``, ``type``, ``session`` in the words of docs/vocabulary.md).
    """

    def __init__(self, name, env, product, port, versions, default_version, connect, base_path="", options=None,
                 feed=None):
        self.name = name
        self.env = env
        self.product = product
        self.port = port
        self.versions = tuple(versions) if versions else None
        self.default_version = default_version
        self.connect = connect
        self.base_path = base_path
        self.options = dict(options or {})
        self.feed = feed

    def shared_options(self):
        """``(name, type, default, environment variable)`` of each option of :data:`CONNECTION_OPTIONS`."""
        return [(name, kind, self.port if name == "port" else default, "%s_%s" % (self.env, name.upper()))
                for name, kind, default in CONNECTION_OPTIONS]
