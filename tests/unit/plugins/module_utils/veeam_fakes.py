# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Test doubles for the connection helper: no network, no real clock.

* :class:`FakeServer` is a ``requests`` transport adapter mounted on the ``Transport``'s session.  It answers from
  a route table, records every request it receives (method, path, query, headers, body, the ``verify``,
  ``timeout`` and ``proxies`` requests handed down), and can fail the way ``requests`` fails on a real network: connection
  refused (nothing sent), connection dropped after the request went out, read and connect timeouts, TLS
  verification errors, a body cut off half-way.  The exceptions are built with the same nesting
  ``requests.adapters.HTTPAdapter.send`` produces, so the transport's translation is tested as in production.
* :class:`FakeClock` is a monotonic clock whose ``sleep`` only advances time and records the pause.
* The ``*_SECRET`` values are long and unusual, so a leak cannot hide behind a common word, and
  :func:`assert_no_secrets` looks for each of them (and the Basic-auth encoding of the password) in anything.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import json
import os
import re
import ssl
import urllib.parse

import pytest
import requests
import urllib3
import urllib3.connection
from requests.adapters import BaseAdapter, HTTPAdapter

from ansible_collections.backupops.veeam.plugins.module_utils._errors import VeeamError

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures")

USERNAME = "LAB\\svc-ansible"
PASSWORD = "Pw!q7-Zr9#unusual-password-5e1d2c3b4a"
EM_TOKEN = "Tk-EM-0f9e8d7c6b5a-unusual-session-token=="
EM_TOKEN2 = "Tk-EM-second-1a2b3c4d5e6f-unusual-token=="
M365_ACCESS = "AQAAAxx-access-token-unusual-7d6c5b4a39281706"
M365_ACCESS2 = "AQAAAyy-access-token-refreshed-unusual-8e7f6a5b"
M365_REFRESH = "RFxx-refresh-token-unusual-0b1c2d3e4f5a6978"
M365_REFRESH2 = "RFyy-refresh-token-second-unusual-9a8b7c6d5e4f"
BASIC = base64.b64encode(("%s:%s" % (USERNAME, PASSWORD)).encode("utf-8")).decode("ascii")
SECRETS = (PASSWORD, EM_TOKEN, EM_TOKEN2, M365_ACCESS, M365_ACCESS2, M365_REFRESH, M365_REFRESH2, BASIC)

EM_SESSION_ID = "15a3fc97-0325-4119-b789-5c0367c6c565"  # the SessionId of em_logon_session.xml


def fixture_path(name):
    return os.path.join(FIXTURES, name)


def fixture_bytes(name):
    with open(fixture_path(name), "rb") as handle:
        return handle.read()


def fixture_names(*suffixes):
    return sorted(n for n in os.listdir(FIXTURES) if n.endswith(suffixes) and n != "README.md")


def assert_no_secrets(*things):
    """None of the test secrets may appear in any of ``things`` (strings, exceptions, dicts, lists)."""
    for thing in things:
        if isinstance(thing, VeeamError):
            texts = [str(thing), repr(thing.args), json.dumps(thing.to_result(), default=repr), thing.message,
                     str(thing.hint), str(thing.veeam_message)]
        elif isinstance(thing, (dict, list, tuple)):
            texts = [json.dumps(thing, default=repr)]
        else:
            texts = [str(thing)]
        for text in texts:
            for secret in SECRETS:
                assert secret not in text, "a secret leaked into %r" % text[:400]


@contextlib.contextmanager
def expect_error(kind, *fragments, warnings=()):
    """``with expect_error("auth", "rejected") as caught:`` -> the VeeamError is ``caught.error``.

    Checks the kind, that every fragment is in ``str(error)``, and that no secret is in the error, its result or
    the ``warnings`` list (read when the block ends).
    """
    holder = type("Caught", (), {"error": None})()
    with pytest.raises(VeeamError) as info:
        yield holder
    holder.error = info.value
    assert info.value.kind == kind, "kind %r, expected %r: %s" % (info.value.kind, kind, info.value)
    for fragment in fragments:
        assert fragment in str(info.value), "%r not in %r" % (fragment, str(info.value))
    assert_no_secrets(info.value, list(warnings))


# ------------------------------------------------------------------------------------------------ clock
class FakeClock:
    """``monotonic()`` and ``sleep()`` for Poller, RetryPolicy and the VB365 token clock."""

    def __init__(self, start=1000.0):
        self.now = float(start)
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0, "negative sleep %r" % seconds
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds):
        self.now += seconds


# ------------------------------------------------------------------------------------------------ replies
class Reply:
    """An HTTP answer: status, body bytes, headers (a list of pairs, so Set-Cookie can repeat)."""

    def __init__(self, status=200, body=b"", headers=None, content_type=None, stream=None, content_length=True):
        self.status = status
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.headers = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        if content_type:
            self.headers.append(("Content-Type", content_type))
        if content_length and stream is None and not any(
                k.lower() == "content-length" for k, _value in self.headers):
            self.headers.append(("Content-Length", str(len(self.body))))
        self.stream = stream


def xml(status, name_or_body, headers=None):
    """A reply with an XML fixture (by file name) or an XML string."""
    body = fixture_bytes(name_or_body) if name_or_body.endswith(".xml") else name_or_body
    return Reply(status, body, headers, content_type="application/xml; charset=utf-8")


def jsonr(status, data_or_name, headers=None):
    """A reply with a JSON fixture (by file name) or a value to serialise."""
    if isinstance(data_or_name, str) and data_or_name.endswith(".json"):
        body = fixture_bytes(data_or_name)
    else:
        body = json.dumps(data_or_name).encode("utf-8")
    return Reply(status, body, headers, content_type="application/json; charset=utf-8")


def em_error(status, message):
    """An EM ``<Error>`` body (XSD ErrorType)."""
    body = ('<?xml version="1.0" encoding="utf-8"?><Error xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" Message="%s" StatusCode="%d" '
            'xmlns="http://www.veeam.com/ent/v1.0" />' % (message.replace("&", "&amp;").replace('"', "&quot;"),
                                                          status))
    return Reply(status, body, content_type="application/xml; charset=utf-8")


class _BrokenStream(io.RawIOBase):
    """A body that delivers ``data`` and then fails as a connection reset mid-body does."""

    def __init__(self, data):
        super().__init__()
        self._data = io.BytesIO(data)
        self._done = False

    def readable(self):
        return True

    def readinto(self, buffer):
        chunk = self._data.read(len(buffer))
        if chunk:
            buffer[:len(chunk)] = chunk
            return len(chunk)
        raise http.client.IncompleteRead(b"", 4096)


def cut_body(status, partial, content_type="application/xml"):
    """A reply whose body breaks off after ``partial`` (the request reached the server)."""
    return Reply(status, b"", [("Content-Type", content_type), ("Content-Length", str(len(partial) + 4096))],
                 stream=_BrokenStream(partial))


# ------------------------------------------------------------------------------------------------ faults
class Fault:
    """A network failure instead of an answer; ``reached`` says whether the server got the request."""

    def __init__(self, name, reached, build):
        self.name = name
        self.reached = reached
        self.build = build

    def __repr__(self):
        return "Fault(%s)" % self.name


def _pool(request):
    parts = urllib.parse.urlsplit(request.url)
    cls = urllib3.HTTPSConnectionPool if parts.scheme == "https" else urllib3.HTTPConnectionPool
    return cls(parts.hostname, parts.port)


def _conn(request):
    parts = urllib.parse.urlsplit(request.url)
    cls = urllib3.connection.HTTPSConnection if parts.scheme == "https" else urllib3.connection.HTTPConnection
    return cls(parts.hostname, parts.port)


def _within(outer, inner, cause=False):
    """``outer`` as if raised while handling ``inner`` (``raise outer`` in an except block, or ``from inner``)."""
    outer.__context__ = inner
    if cause:
        outer.__cause__ = inner
    return outer


# The chains below are the ones requests 2.34 / urllib3 2.x raise on a real socket (checked once against a
# local listener that refuses, closes after reading the request, resets, or never answers).
def refused():
    """Connection refused: ConnectionError(MaxRetryError(NewConnectionError from ConnectionRefusedError))."""
    def build(request):
        cause = ConnectionRefusedError(111, "Connection refused")
        reason = _within(urllib3.exceptions.NewConnectionError(
            _conn(request), "Failed to establish a new connection: %s" % cause), cause, cause=True)
        retry = _within(urllib3.exceptions.MaxRetryError(_pool(request), request.path_url, reason), reason, cause=True)
        return _within(requests.exceptions.ConnectionError(retry, request=request), retry)
    return Fault("refused", False, build)


def dropped():
    """The server closed the connection after reading the request, before answering (the response is lost)."""
    def build(request):
        cause = http.client.RemoteDisconnected("Remote end closed connection without response")
        protocol = _within(urllib3.exceptions.ProtocolError("Connection aborted.", cause), cause)
        return _within(requests.exceptions.ConnectionError(protocol, request=request), protocol)
    return Fault("dropped", True, build)


def reset():
    """Connection reset by peer while waiting for the answer (after the request went out)."""
    def build(request):
        cause = ConnectionResetError(104, "Connection reset by peer")
        protocol = _within(urllib3.exceptions.ProtocolError("Connection aborted.", cause), cause)
        return _within(requests.exceptions.ConnectionError(protocol, request=request), protocol)
    return Fault("reset", True, build)


def read_timeout():
    """No answer within ``timeout`` (the request was sent)."""
    def build(request):
        cause = TimeoutError("timed out")
        inner = _within(urllib3.exceptions.ReadTimeoutError(_pool(request), request.path_url,
                                                            "Read timed out. (read timeout=30)"), cause)
        return _within(requests.exceptions.ReadTimeout(inner, request=request), inner)
    return Fault("read_timeout", True, build)


def connect_timeout():
    """No TCP connection within ``timeout`` (nothing sent)."""
    def build(request):
        cause = TimeoutError("timed out")
        reason = _within(urllib3.exceptions.ConnectTimeoutError(
            _conn(request), "Connection to em.example timed out. (connect timeout=30)"), cause, cause=True)
        retry = _within(urllib3.exceptions.MaxRetryError(_pool(request), request.path_url, reason), reason, cause=True)
        return _within(requests.exceptions.ConnectTimeout(retry, request=request), retry)
    return Fault("connect_timeout", False, build)


def tls_failure(text="[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate (_ssl.c:1006)"):
    """Certificate verification failed during the handshake (nothing sent)."""
    def build(request):
        cause = ssl.SSLCertVerificationError(1, text)
        inner = _within(urllib3.exceptions.SSLError(cause), cause)
        retry = _within(urllib3.exceptions.MaxRetryError(_pool(request), request.path_url, inner), inner, cause=True)
        return _within(requests.exceptions.SSLError(retry, request=request), retry)
    return Fault("tls", False, build)


def wrong_tls_version():
    """HTTPS spoken to a plain-HTTP port."""
    return tls_failure("[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)")


# ------------------------------------------------------------------------------------------------ server
class Call:
    """One request as the fake server saw it."""

    def __init__(self, request, verify, timeout, proxies=None):
        parts = urllib.parse.urlsplit(request.url)
        self.method = request.method
        self.url = request.url
        self.scheme = parts.scheme
        self.netloc = parts.netloc
        self.path = parts.path
        self.query = parts.query
        self.params = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        self.headers = dict(request.headers)
        body = request.body
        self.body = body.encode("utf-8") if isinstance(body, str) else (body or b"")
        self.verify = verify
        self.timeout = timeout
        self.proxies = dict(proxies or {})
        self.reached = True

    @property
    def form(self):
        return {k: v[0] for k, v in urllib.parse.parse_qs(self.body.decode("utf-8")).items()}

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def __repr__(self):
        return "<%s %s%s>" % (self.method, self.path, "?" + self.query if self.query else "")


class _Original:
    """Stands for the ``http.client.HTTPResponse`` urllib3 wraps: cookies are read from its ``msg``."""

    def __init__(self, headers):
        self.msg = http.client.HTTPMessage()
        for key, value in headers:
            self.msg[key] = value
        self._closed = False

    def close(self):
        self._closed = True

    def isclosed(self):
        return self._closed


class FakeServer(BaseAdapter):
    """A route table behind a ``requests`` adapter.

    ``on(method, path, *replies)``: ``path`` is the exact URL path or a compiled regex; replies are used in
    order and the last one repeats; a reply may be a :class:`Reply`, a :class:`Fault`, or a function of the
    :class:`Call` returning either.  Requests that match no route get a 404 and are kept in ``unrouted``.
    """

    def __init__(self):
        super().__init__()
        self.routes = []
        self.attempts = []
        self.unrouted = []

    def mount_on(self, session):
        session.mount("https://", self)
        session.mount("http://", self)
        return self

    def on(self, method, path, *replies):
        self.routes.insert(0, [method.upper(), path, list(replies)])
        return self

    @property
    def calls(self):
        """The requests that reached the server (not those refused before sending)."""
        return [c for c in self.attempts if c.reached]

    def count(self, method, path=None):
        return len([c for c in self.calls if c.method == method and (
            path is None or (path.search(c.path) if hasattr(path, "search") else c.path == path))])

    def _match(self, call):
        for route in self.routes:
            method, path, replies = route
            if method != call.method:
                continue
            if (path.search(call.path) if hasattr(path, "search") else path == call.path):
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
                return reply(call) if callable(reply) and not isinstance(reply, (Reply, Fault)) else reply
        self.unrouted.append(call)
        return Reply(404, b"")

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        call = Call(request, verify, timeout, proxies)
        self.attempts.append(call)
        reply = self._match(call)
        if isinstance(reply, Fault):
            call.reached = reply.reached
            raise reply.build(request)
        headers = urllib3.HTTPHeaderDict()
        for key, value in reply.headers:
            headers.add(key, value)
        raw = urllib3.HTTPResponse(body=reply.stream if reply.stream is not None else io.BytesIO(reply.body),
                                   headers=headers, status=reply.status, reason=http.client.responses.get(
                                       reply.status, "Unknown"), preload_content=False, decode_content=False,
                                   original_response=_Original(reply.headers), request_url=request.url)
        return HTTPAdapter.build_response(self, request, raw)  # pylint: disable=no-value-for-parameter

    def close(self):
        pass


def path_re(pattern):
    """A compiled path pattern for :meth:`FakeServer.on`."""
    return re.compile(pattern)
