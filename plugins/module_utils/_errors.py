# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one error type of the collection's clients.  Private to backupops.veeam: not a public API.

Every failure a module can meet (transport, TLS, HTTP status, Veeam's own error body, unparsable bodies,
waits that time out, bad input) is a :class:`VeeamError`.  It carries what a person needs to act on it and
never a credential or a token: messages are built from our own words, Veeam's error text, the HTTP method and
the path (no query string values that could hold secrets, no headers, no request bodies).
"""

from __future__ import annotations

# Error kinds: modules and tests match on these, not on message text.
CONNECTION = "connection"        # could not connect / connection dropped
TLS = "tls"                      # certificate verification or TLS handshake failed
TIMEOUT = "timeout"              # one request took longer than `timeout`
RESPONSE_LOST = "response_lost"  # a non-repeatable request was sent but its response never arrived
HTTP = "http"                    # the server answered with an error status
AUTH = "auth"                    # 401 on logon / token: wrong credentials
FORBIDDEN = "forbidden"          # 403: the account lacks the role for this action
NOT_FOUND = "not_found"          # 404, or nothing matched a name
AMBIGUOUS = "ambiguous"          # a name matched several objects
CONFLICT = "conflict"            # the server refused because of the object's state
PARSE = "parse"                  # the body was not the XML/JSON we expected
WAIT_TIMEOUT = "wait_timeout"    # `wait_timeout` ran out
JOB_FAILED = "job_failed"        # the awaited task/session ended Failed (or Warning with fail_on_warning)
USAGE = "usage"                  # bad option values, caught before any change

# Details that steer the client (retry decisions) and mean nothing to a user: kept out of module results.
_INTERNAL_DETAILS = frozenset(("not_sent", "timed_out"))

# Kinds a safe (repeatable) request may be retried on.
TRANSIENT = frozenset((CONNECTION, TIMEOUT))
TRANSIENT_STATUS = frozenset((429, 502, 503, 504))


class VeeamError(Exception):
    """A failure with the facts a person needs: what, where (method + path), HTTP status, Veeam's message."""

    def __init__(self, message, kind=HTTP, status=None, method=None, path=None, veeam_message=None,
                 veeam_code=None, hint=None, details=None):
        super().__init__(message)
        self.message = message
        self.kind = kind
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
        return self.kind in TRANSIENT or (self.kind == HTTP and self.status in TRANSIENT_STATUS)

    def __str__(self):
        text = self.message
        where = " ".join(part for part in (self.method, self.path) if part)
        if self.status is not None and where:
            text += " (HTTP %s on %s)" % (self.status, where)
        elif self.status is not None:
            text += " (HTTP %s)" % self.status
        elif where and self.kind in (CONNECTION, TIMEOUT, TLS, RESPONSE_LOST, PARSE):
            text += " (%s)" % where
        if self.hint:
            text += ". " + self.hint if not text.endswith(".") else " " + self.hint
        return text

    def to_result(self):
        """Facts for a module's failure result (``fail_json`` keyword arguments besides ``msg``)."""
        result = {"error": {"kind": self.kind, "status": self.status, "method": self.method, "path": self.path,
                            "veeam_message": self.veeam_message, "veeam_code": self.veeam_code}}
        result.update((k, v) for k, v in self.details.items() if k not in _INTERNAL_DETAILS)
        return result
