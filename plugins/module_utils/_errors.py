# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The collection's error types, and the journal of what a module run did.  Private to backupops.veeam: not a
public API.

Every failure a module can meet is a :class:`VeeamError`; what kind of failure it is, is its class, and code
tells failures apart with ``except``, never by reading a string.  Each class carries a ``kind`` word too: it is
what a failed task result shows under ``error.kind`` (documented in docs/troubleshooting.md), not what code
matches on.  An error never carries a credential or a token: messages are built from our own words, Veeam's
error text, the HTTP method and the path (no query string values, no headers, no request bodies).

:class:`Journal` is the one place that records what a module run changed and warned about, so that an error
that comes after a change says so, in one way, whoever made the change.
"""

from __future__ import annotations

#: HTTP statuses a safe (repeatable) request may be retried on.
TRANSIENT_STATUS = frozenset((429, 502, 503, 504))


class VeeamError(Exception):
    """A failure with the facts a person needs: what, where (method + path), HTTP status, Veeam's message."""

    kind = "error"

    def __init__(self, message, status=None, method=None, path=None, veeam_message=None, veeam_code=None,
                 hint=None, details=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.path = path
        self.veeam_message = veeam_message
        self.veeam_code = veeam_code
        self.hint = hint
        self.details = details or {}

    @property
    def transient(self):
        """True when repeating the same safe request may succeed (connection trouble, 429, 502-504)."""
        return False

    def __str__(self):
        text = self.message
        where = " ".join(part for part in (self.method, self.path) if part)
        if self.status is not None and where:
            text += " (HTTP %s on %s)" % (self.status, where)
        elif self.status is not None:
            text += " (HTTP %s)" % self.status
        elif where and isinstance(self, (TransportError, ParseError)):
            text += " (%s)" % where
        if self.hint:
            text += ". " + self.hint if not text.endswith(".") else " " + self.hint
        return text

    def to_result(self):
        """Facts for a module's failure result (``fail_json`` keyword arguments besides ``msg``)."""
        result = {"error": {"kind": self.kind, "status": self.status, "method": self.method, "path": self.path,
                            "veeam_message": self.veeam_message, "veeam_code": self.veeam_code}}
        result.update(self.details)
        return result


class UsageError(VeeamError):
    """Bad option values or combinations, found before anything was changed."""
    kind = "usage"


class AuthError(VeeamError):
    """The server did not accept the credentials or the token (401)."""
    kind = "auth"


class ForbiddenError(VeeamError):
    """The account lacks the role or claim for this (403)."""
    kind = "forbidden"


class NotFoundError(VeeamError):
    """No such object (404, or nothing matched a name)."""
    kind = "not_found"


class AmbiguousError(VeeamError):
    """A name matched several objects."""
    kind = "ambiguous"


class ConflictError(VeeamError):
    """The server refused because of the object's state (a running job started again), or the task found the
    object in a state it was told not to accept."""
    kind = "conflict"


class HttpError(VeeamError):
    """The server answered with an error status that none of the classes above describes."""
    kind = "http"

    @property
    def transient(self):
        return self.status in TRANSIENT_STATUS


class ParseError(VeeamError):
    """The body was not the XML or JSON document the API documents."""
    kind = "parse"


class TransportError(VeeamError):
    """The connection failed or dropped before an answer arrived.  ``not_sent``: nothing reached the server
    (connection refused, name not resolved), so any request may be sent again."""
    kind = "connection"

    def __init__(self, message, not_sent=False, **kwargs):
        super().__init__(message, **kwargs)
        self.not_sent = not_sent

    @property
    def transient(self):
        return True


class TlsError(TransportError):
    """The TLS handshake or the certificate check failed; trying again does not help."""
    kind = "tls"

    @property
    def transient(self):
        return False


class RequestTimeoutError(TransportError):
    """One request took longer than the ``timeout`` option."""
    kind = "timeout"


class LostAnswerError(TransportError):
    """A request that must not be repeated (a start) was sent, and its answer never arrived: the server may or may
    not have acted on it.  ``timed_out``: the answer was late rather than cut off, so the server may still be
    working on it."""
    kind = "response_lost"

    def __init__(self, message, timed_out=False, **kwargs):
        super().__init__(message, **kwargs)
        self.timed_out = timed_out

    @property
    def transient(self):
        return False


class WaitTimeoutError(VeeamError):
    """``wait_timeout`` ran out before what the task waited for was done."""
    kind = "wait_timeout"


class JobFailedError(VeeamError):
    """What the task waited for ended badly (a run Failed, or Warning with ``fail_on_warning``; a start refused)."""
    kind = "job_failed"


#: Classes of the errors an HTTP status maps to (any other error status is an :class:`HttpError`).
_STATUS_CLASSES = {401: AuthError, 403: ForbiddenError, 404: NotFoundError, 409: ConflictError}


def for_status(status):
    """The error class of an HTTP error status."""
    return _STATUS_CLASSES.get(status, HttpError)


def refusal(err):
    """True when ``err`` is the server refusing a request it received (an error status), rather than a failure to
    talk to it: a refused action is settled by reading the object again, never by sending it again."""
    return isinstance(err, (ConflictError, HttpError, ForbiddenError, NotFoundError)) and err.status is not None


class Journal:
    """What a module run did, in words: the warnings it gave and the changes it made, in order.

    Clients, the job lifecycle and modules all write here; the module wrapper reads it once, when it reports a
    failure (``annotate``), so an error that comes after a change always says what had changed.
    """

    def __init__(self, sink=None):
        self.warnings = []
        self.changes = []
        self._sink = sink

    def warn(self, text):
        if text not in self.warnings:
            self.warnings.append(text)
            if self._sink is not None:
                self._sink(text)

    def changed(self, text):
        """Record a change; returns the entry, for :meth:`retract`."""
        self.changes.append(text)
        return text

    def retract(self, entry):
        """A change recorded too early did not happen after all (a start the server accepted, then refused)."""
        if entry in self.changes:
            self.changes.remove(entry)

    def annotate(self, err):
        """The message and ``changed`` of a failure: an error that came after a change says first what changed and
        sets ``changed`` (unless the error tells what changed itself, as a failed run or a timed-out wait does)."""
        if "changed" in err.details:
            return str(err), bool(err.details["changed"])
        if self.changes:
            return "%s, then: %s" % ("; ".join(self.changes), err), True
        return str(err), False
