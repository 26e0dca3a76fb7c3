# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Transport: one ``requests.Session`` per module run.  Private to backupops.veeam: not a public API.

What it owns: the base URL, TLS (``validate_certs``, ``ca_path``), the per-request ``timeout`` (kept apart
from any wait timeout), a retry policy with exponential backoff and jitter for requests that are safe to
repeat, and turning every transport failure into a ``VeeamError`` with a message a person can act on.  It
knows nothing of Veeam: callers say which requests are safe to repeat.

A request that is not safe to repeat (starting a job) is sent at most once.  When its connection fails before
anything was sent (connection refused), it is not sent at all and may be tried again; when the connection
breaks after the request went out, the caller gets a ``LostAnswerError`` and must ask the server whether it took
effect before doing anything else.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import re
import signal
import threading
import time
import urllib.parse

from ansible_collections.backupops.veeam.plugins.module_utils._errors import (
    TRANSIENT_STATUS, LostAnswerError, ParseError, RequestTimeoutError, TlsError, TransportError, UsageError,
    VeeamError)

try:
    import requests
    from requests import exceptions as rex
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module wrapper
    requests = None
    rex = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc

SAFE_METHODS = frozenset(("GET", "HEAD", "DELETE", "OPTIONS"))

#: Bodies larger than this are refused rather than parsed (a job list of tens of thousands of jobs is far below).
MAX_BODY_BYTES = 64 * 1024 * 1024


class Response:
    """What came back: status, headers (case-insensitive), raw body bytes and content type."""

    def __init__(self, status, headers, body, method, path):
        self.status = status
        self.headers = headers
        self.body = body
        self.method = method
        self.path = path

    @property
    def content_type(self):
        return self.headers.get("Content-Type", "")

    def header(self, name, default=None):
        return self.headers.get(name, default)


class RetryPolicy:
    """Exponential backoff with full jitter for transient failures of safe requests.

    ``attempts`` is the total number of tries.  Delays grow ``base * 2**n`` up to ``cap`` seconds; a
    ``Retry-After`` header (seconds) is honoured up to ``cap``.
    """

    def __init__(self, attempts=4, base=0.5, cap=8.0, sleep=time.sleep, rand=random.random):
        self.attempts = max(1, int(attempts))
        self.base = base
        self.cap = cap
        self.sleep = sleep
        self.rand = rand

    def delay(self, attempt, retry_after=None):
        """Seconds to wait before try number ``attempt + 1`` (``attempt`` counts from 0)."""
        if retry_after is not None:
            return min(self.cap, max(0.0, retry_after))
        ceiling = min(self.cap, self.base * (2 ** attempt))
        return ceiling / 2 + self.rand() * ceiling / 2


def _retry_after(headers):
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _reason_chain(exc):
    """The exception and everything it wraps (``__cause__``, ``__context__``, ``reason``, ``args[0]``)."""
    seen, todo = [], [exc]
    while todo:
        item = todo.pop(0)
        if item is None or any(item is other for other in seen) or len(seen) > 20:
            continue
        seen.append(item)
        first = item.args[0] if getattr(item, "args", None) else None
        todo.extend(x for x in (item.__cause__, item.__context__, getattr(item, "reason", None), first)
                    if isinstance(x, BaseException))
    return seen


def _not_sent(exc):
    """True when a connection error happened before the request left (refused, DNS, connect timeout)."""
    for item in _reason_chain(exc):
        name = type(item).__name__
        if name in ("NewConnectionError", "ConnectTimeoutError", "NameResolutionError", "ConnectionRefusedError"):
            return True
    return isinstance(exc, rex.ConnectTimeout) if rex is not None else False


def _short(exc):
    """A one-line reason from a requests/urllib3 exception, without URLs' query strings."""
    for item in reversed(_reason_chain(exc)):
        text = str(item)
        if text and "HTTPSConnectionPool" not in text and "HTTPConnectionPool" not in text:
            return text.splitlines()[0][:300]
    return type(exc).__name__


class _NoCookies:
    """A cookie policy that accepts no cookie: EM sends its token as a cookie too, and a cookie left from an
    earlier logon would override the ``X-RestSvcSessionId`` header of a new one (EM prefers the cookie)."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = False

    def set_ok(self, cookie, request):  # pylint: disable=unused-argument
        return False

    def return_ok(self, cookie, request):  # pylint: disable=unused-argument
        return False

    def domain_return_ok(self, domain, request):  # pylint: disable=unused-argument
        return False

    def path_return_ok(self, path, request):  # pylint: disable=unused-argument
        return False


def base_url(server, port, default_scheme="https", path=""):
    """``server`` as a hostname, ``host:port`` or full URL, plus ``port`` -> ``scheme://host:port[/prefix]``.

    A port in ``server`` wins over ``port``; a scheme in ``server`` wins over ``default_scheme``.  A bare IPv6
    address (``fd00::1``) is taken as a host; give ``[fd00::1]:port`` to add a port.  A path in ``server`` is the
    prefix of a reverse proxy (``https://proxy/veeam/em`` or ``https://proxy/veeam/em/api``: the API's own ``path``
    at its end is left out) and goes before every request's path.  User info (``user:password@``) is refused:
    credentials go in username and password, never in a URL that messages show.
    """
    server = (server or "").strip()
    if not server:
        raise UsageError("No server given: set the server option or its environment variable")
    if "://" not in server and server.count(":") > 1 and not server.startswith("["):
        server = "[%s]" % server
    if "://" not in server:
        server = "%s://%s" % (default_scheme, server)
    parts = urllib.parse.urlsplit(server)
    # A password with "#" or "?" in it ends urlsplit's netloc early (no "@" left in it): look at the text too, and
    # never echo what comes before an "@" (a password with "/" in it gets past both checks, into the messages below).
    shown = re.sub(r"//.*@", "//", server)
    if parts.username is not None or parts.password is not None or re.search(r"://[^/]*@", server):
        raise UsageError("server carries a user name or password (user:password@host): give the host alone, and the "
                         "credentials as username and password")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError("server %r is not a hostname, host:port or http(s) URL" % shown)
    if parts.query or parts.fragment:
        raise UsageError("server %r has a query string or fragment: give scheme://host:port[/path] only" % shown)
    try:
        url_port = parts.port
    except ValueError:
        raise UsageError("server %r has an invalid port" % shown) from None
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = "[%s]" % host
    final_port = port if url_port is None else url_port
    if not isinstance(final_port, int) or isinstance(final_port, bool) or not 0 < final_port < 65536:
        raise UsageError("port %r is not a TCP port (1-65535)" % (final_port,))
    prefix = parts.path.rstrip("/")
    if path and prefix.endswith(path.rstrip("/")):
        prefix = prefix[:len(prefix) - len(path.rstrip("/"))]
    return "%s://%s:%s%s" % (parts.scheme, host, final_port, prefix)


class _Deadline(BaseException):
    """Raised by the alarm when a request's total time runs out.  A BaseException, so that no ``except Exception``
    in requests or urllib3 can swallow it: it always reaches :meth:`Transport._once`."""


@contextlib.contextmanager
def _alarm(seconds):
    """Raise :class:`_Deadline` in this thread after ``seconds``, whatever the request is doing then (connecting,
    waiting for headers, reading a body a byte at a time).  Only the main thread can take signals: elsewhere (never
    in a module, which runs in its own process) the request is bounded by its read timeout alone."""
    if seconds is None or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def ring(_signum, _frame):
        raise _Deadline()
    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, max(float(seconds), 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Transport:
    """HTTP for one module run: one session, TLS settings, timeouts, retries and error translation.

    ``timeout`` bounds each request as a whole - connecting, sending, the headers and the body - not only each read
    (a server that sends a byte every second would keep a read timeout from ever running out).  Inside
    :meth:`bounded` (a wait), a request also ends at the wait's deadline (with a little grace for the last poll),
    and no retry starts after it.

    Credentials come only from the module's options: requests' ``trust_env`` is off, so a ``~/.netrc`` entry for
    the server never replaces them; proxies from the environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``)
    are still honoured, read once for the server's address.
    """

    #: Seconds a request may run past a wait's deadline (the last poll at the deadline must get an answer).
    GRACE = 2.0

    def __init__(self, base, validate_certs=True, ca_path=None, timeout=30, retry=None, user_agent=None,
                 clock=time.monotonic):
        if not HAS_REQUESTS:
            raise UsageError("The requests Python library is required")
        self.base = base.rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.clock = clock
        self.deadline = None
        self.session = requests.Session()
        self.session.cookies.set_policy(_NoCookies())
        self.session.trust_env = False
        self.session.proxies.update(requests.utils.get_environ_proxies(self.base))
        if ca_path and validate_certs and not os.path.isfile(ca_path):
            raise UsageError("ca_path %r is not a file: give the PEM file of the CA that signed the server's "
                             "certificate (or its environment variable)" % ca_path)
        if not validate_certs:
            self.verify = False
            try:  # the module warns once instead of urllib3 on every request
                import urllib3  # pylint: disable=import-outside-toplevel
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            except ImportError:  # pragma: no cover
                pass
        else:
            self.verify = ca_path if ca_path else True
        self.session.headers["User-Agent"] = user_agent or "backupops.veeam"
        self.requests_sent = 0

    @contextlib.contextmanager
    def bounded(self, deadline):
        """Within the block, no request runs past ``deadline`` (a ``clock()`` value) plus GRACE, and no retry starts
        after it."""
        previous, self.deadline = self.deadline, deadline
        try:
            yield
        finally:
            self.deadline = previous

    def _left(self):
        """Seconds this request may take: ``timeout``, cut to what a wait's deadline leaves (plus GRACE)."""
        budget = float(self.timeout)
        if self.deadline is not None:
            budget = min(budget, max(self.deadline - self.clock(), 0.0) + min(self.GRACE, budget))
        return budget

    def _past_deadline(self):
        return self.deadline is not None and self.clock() >= self.deadline

    def look_after_lost(self, lost, look, seen=bool):
        """``(result, looks)``: what ``look()`` finds after a request whose response was lost (never sent again).

        A request that timed out, rather than losing its connection, may still be carried out by the server: until
        ``seen(result)`` says it shows, it is looked for again once a second, for as long again as ``timeout``
        (30 s at most); ``looks`` counts those extra looks."""
        result, looks = look(), 0
        if lost.timed_out:
            while not seen(result) and looks < math.ceil(min(float(self.timeout or 1), 30.0)):
                self.retry.sleep(1.0)
                looks += 1
                result = look()
        return result, looks

    def url(self, path):
        """An absolute URL for ``path``; links from the server keep only their path and query, so a server
        that names itself differently (``https://em01.local:9398/api/...``) is still reached at ``base`` (and
        through its reverse-proxy prefix, when ``server`` has one)."""
        if "://" in path:
            parts = urllib.parse.urlsplit(path)
            path = parts.path + ("?" + parts.query if parts.query else "")
        root = urllib.parse.urlsplit(self.base)
        path = path if path.startswith("/") else "/" + path
        prefix = root.path.rstrip("/")
        if prefix and not path.startswith(prefix + "/"):
            path = prefix + path  # a reverse proxy's prefix, unless the server's own link has it already
        return "%s://%s%s" % (root.scheme, root.netloc, path)

    def close(self):
        self.session.close()

    def request(self, method, path, params=None, headers=None, data=None, json_body=None, safe=None, auth=None,
                display_path=None, retry=None, once=False, repeat_status=None):
        """Send one request and return a :class:`Response` for any HTTP status (the caller judges it).

        ``safe`` says whether the request may be repeated (default: GET/HEAD/DELETE are safe).  Safe requests
        are retried on connection errors, timeouts, 429 and 502-504; unsafe ones only when nothing was sent,
        and an unsafe request whose response is lost raises a ``LostAnswerError``.  ``repeat_status`` (default:
        ``safe``) lets an unsafe request be repeated after a 429 or 502-504 answer, which means the server did
        not act on it (a logon).  A ``Retry-After`` longer than the policy's longest pause is not waited for: the
        answer is returned, and the caller's error says when the server takes requests again.  ``once``: no retry
        at all (a logoff at the end of a run).
        ``display_path`` is what error messages show (default: the path without its query string).  ``retry``
        replaces the transport's retry policy for the HTTP status retries of this request (429, 502-504: a
        throttled endpoint may ask for longer and more pauses); connection errors and timeouts keep the
        transport's own policy, so a wrong port or scheme fails as fast as on any other request.
        """
        policy = retry or self.retry
        connect_policy = self.retry
        method = method.upper()
        if safe is None:
            safe = method in SAFE_METHODS
        if repeat_status is None:
            repeat_status = safe
        url = self.url(path)
        shown = display_path or urllib.parse.urlsplit(url).path
        attempt = 0
        while True:
            try:
                response = self._once(method, url, shown, params, headers, data, json_body, auth)
            except TransportError as exc:
                if not exc.transient:
                    raise
                if not safe and not exc.not_sent:
                    raise LostAnswerError(exc.message + "; the server may or may not have acted on the request",
                                          timed_out=isinstance(exc, RequestTimeoutError), method=exc.method,
                                          path=exc.path, hint=exc.hint) from None
                if not once and attempt + 1 < connect_policy.attempts and not self._past_deadline():
                    connect_policy.sleep(self._pause(connect_policy.delay(attempt)))
                    attempt += 1
                    continue
                raise
            if (repeat_status and not once and response.status in TRANSIENT_STATUS and attempt + 1 < policy.attempts
                    and not self._past_deadline()):
                wait = _retry_after(response.headers)
                if wait is None or wait <= policy.cap:
                    policy.sleep(self._pause(policy.delay(attempt, wait)))
                    attempt += 1
                    continue
            return response

    def _pause(self, seconds):
        """A pause before a retry, cut so that it does not run past a wait's deadline."""
        if self.deadline is not None:
            seconds = min(seconds, max(self.deadline - self.clock(), 0.0))
        return seconds

    def _once(self, method, url, shown, params, headers, data, json_body, auth):
        self.requests_sent += 1
        budget = self._left()
        try:
            # The alarm rings a little after the read timeout, so that a server that does not answer at all gets the
            # read timeout's message and only one that dribbles its answer gets the alarm's.
            with _alarm(budget * 1.1 + 0.5):
                try:
                    raw = self.session.request(method, url, params=params, headers=headers, data=data, json=json_body,
                                               timeout=budget, auth=auth, allow_redirects=False, stream=True,
                                               verify=self.verify)
                except Exception as exc:  # pylint: disable=broad-exception-caught
                    raise self._translate(exc, method, shown) from None
                return Response(raw.status_code, raw.headers, self._read(raw, method, shown), method, shown)
        except _Deadline:
            raise RequestTimeoutError("%s did not finish its answer within %.3g s (the timeout option%s)" % (
                self.base, budget, ", cut to what the wait had left" if budget < float(self.timeout) else ""),
                method=method, path=shown, hint="Raise timeout if the server is slow") from None

    def _read(self, raw, method, shown):
        """Read the body, bounded by MAX_BODY_BYTES, translating transport failures."""
        try:
            length = raw.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
                raise ParseError("The server sent a response of %s bytes, more than the %d this collection reads"
                                 % (length, MAX_BODY_BYTES), method=method, path=shown)
            chunks, size = [], 0
            for chunk in raw.iter_content(1024 * 256):
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise ParseError("The server sent a response larger than the %d bytes this collection reads"
                                     % MAX_BODY_BYTES, method=method, path=shown)
                chunks.append(chunk)
            return b"".join(chunks)
        except VeeamError:
            raw.close()
            raise
        except Exception as exc:  # pylint: disable=broad-exception-caught
            raw.close()
            raise self._translate(exc, method, shown) from None

    def _translate(self, exc, method, shown):
        """A requests/urllib3 exception as a TransportError that names the problem and what to do."""
        where = self.base
        if rex is not None and isinstance(exc, rex.SSLError):
            reason = _short(exc)
            if "WRONG_VERSION_NUMBER" in reason.upper() or "wrong version number" in reason:
                hint = ("%s did not answer TLS: if it serves plain HTTP, give server as http://host:port"
                        % where)
            elif "hostname mismatch" in reason.lower() or "doesn't match" in reason:
                hint = ("The server's certificate is not made out to the name in server: give server as one of the "
                        "names the certificate lists (often the full host name, not an IP address), or set "
                        "validate_certs: false to skip the check (not recommended)")
            elif isinstance(self.verify, str):
                hint = ("ca_path %s does not hold the CA that signed the server's certificate (or lacks an "
                        "intermediate CA of its chain): give the PEM file of that CA, with the whole chain, as ca_path, "
                        "or set validate_certs: false to skip the check (not recommended)" % self.verify)
            else:
                hint = ("No ca_path was given and the CA bundle of requests does not hold the CA that signed the "
                        "server's certificate: give that CA's PEM file as ca_path, or set validate_certs: false to "
                        "skip the check (not recommended)")
            return TlsError("TLS handshake with %s failed: %s" % (where, reason), method=method, path=shown,
                            hint=hint)
        if rex is not None and isinstance(exc, (rex.ConnectTimeout,)):
            return RequestTimeoutError("Could not connect to %s within %.3g s" % (where, self._left()), not_sent=True,
                                       method=method, path=shown,
                                       hint="Check server and port, and that a firewall lets the connection through")
        if rex is not None and isinstance(exc, rex.Timeout):
            return RequestTimeoutError("%s did not answer within %.3g s (the timeout option)" % (where, self._left()),
                                       method=method, path=shown, hint="Raise timeout if the server is slow")
        if rex is not None and isinstance(exc, (rex.ConnectionError, rex.ChunkedEncodingError)):
            reason = _short(exc)
            if _not_sent(exc):
                return TransportError("Could not connect to %s: %s" % (where, reason), not_sent=True, method=method,
                                      path=shown, hint="Check server and port, and that the Veeam REST service is running")
            closed = {type(item).__name__ for item in _reason_chain(exc)} & {"RemoteDisconnected", "BadStatusLine"}
            if closed or "BadStatusLine" in reason or "RemoteDisconnected" in reason or "Connection aborted" in reason:
                reason = "the connection was closed before a response arrived"
            if self.base.startswith("http://"):
                reason += " (if the server expects HTTPS, give server as https://host:port)"
            return TransportError("Lost the connection to %s: %s" % (where, reason), method=method, path=shown)
        if rex is not None and isinstance(exc, rex.RequestException):
            return TransportError("Request to %s failed: %s" % (where, _short(exc)), method=method, path=shown)
        return TransportError("Request to %s failed: %s: %s" % (where, type(exc).__name__, str(exc)[:300]),
                              method=method, path=shown)
