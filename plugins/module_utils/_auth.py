# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Authentication, one small object per scheme.  Private to backupops.veeam: not a public API.

Each authenticator gives the headers of an authenticated request (``headers``), logs on (``begin``), renews
itself when the server answers 401 (``renew``) or before its token runs out (``refresh_if_due``), and ends
(``end``).  :class:`Client` (``_client``) calls them; nothing else does.

* :class:`EmLogon`: an Enterprise Manager logon session.  ``POST /api/sessionMngr/?v=<version>`` with Basic
  auth answers 201 with the token in the ``X-RestSvcSessionId`` header (taken from that header, never derived
  from the body); logoff is ``DELETE /api/logonSessions/{SessionId}``.  A token handed over from
  ``veeam_em_session`` is used as is and not logged off, unless asked to.
* :class:`OAuth2Token`: an OAuth2 password grant (VB365 ``POST /vN/token``, VBR ``POST /api/oauth2/token``),
  refreshed with the refresh_token grant before the access token runs out during long waits (falling back to
  the password grant when the refresh token is refused: they are single-use), and logged out at the end where
  the API has a logout.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import urllib.parse
import uuid

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils import _wire as W
from ansible_collections.backupops.veeam.plugins.module_utils._client import retry_after, status_error, veeam_message
from ansible_collections.backupops.veeam.plugins.module_utils._errors import VeeamError
from ansible_collections.backupops.veeam.plugins.module_utils._http import RetryPolicy

EM_TOKEN_HEADER = "X-RestSvcSessionId"
_EM_LOGON = "/api/sessionMngr/"
#: Between Enterprise Manager's token and its logon session's id in the ``session_token`` veeam_em_session hands
#: on (a character base64 never uses), so that a later task can end exactly that logon session.
_HANDOFF = "|"
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def send_creating(send, journal, what, made, lasts):
    """Send a request whose answer brings a new logon session or token.  It is sent again only when nothing reached
    the server (the transport's rule), or once after an answer that was lost or late - which may have made a
    ``made`` this run never learns of, so the user is told it ``lasts`` until it ends by itself.  A second lost
    answer fails the task, saying so."""
    try:
        return send()
    except E.LostAnswerError as lost:
        journal.warn("The answer to %s was lost (%s); if the server received it, it made a %s that this task cannot "
                     "end (it %s). Sent once more" % (what, lost.message.split(";")[0], made, lasts))
    try:
        return send()
    except E.LostAnswerError as lost:
        raise E.LostAnswerError("%s got no answer twice (%s); each may have made a %s that this task cannot end (it "
                                "%s)" % (what[:1].upper() + what[1:], lost.message.split(";")[0], made, lasts),
                                method=lost.method, path=lost.path, timed_out=lost.timed_out,
                                hint="Check the server and raise timeout if it is slow") from None


def token_session_ids(token):
    """The logon session ids Enterprise Manager's token may stand for: documented tokens are base64 of the session's
    GUID text (Veeam's examples up to v12) or of 16 raw bytes (v13 examples), read both ways round."""
    try:
        raw = base64.b64decode(str(token) + "=" * (-len(str(token)) % 4))
    except (binascii.Error, ValueError):
        return set()
    ids = set()
    text = raw.decode("ascii", "ignore").strip().lower()
    if _GUID.match(text):
        ids.add(text)
    if len(raw) == 16:
        ids.update((str(uuid.UUID(bytes_le=raw)), str(uuid.UUID(bytes=raw))))
    return ids


def _id_of(uid_or_href):
    """The id at the end of a UID (``urn:veeam:LogonSession:<guid>``) or an href (``.../logonSessions/<guid>``)."""
    if not uid_or_href:
        return None
    text = str(uid_or_href).split("?", maxsplit=1)[0].rstrip("/")
    return text.rsplit(":", 1)[-1].rsplit("/", 1)[-1].lower()


class EmLogon:
    """One Enterprise Manager logon session.

    ``logoff``: None logs off a session this object opened and leaves a handed-over ``token`` open; True or False
    decide either way.  With credentials as well as a token, an expired token (401) is replaced by a new logon,
    which is then logged off at the end like any session of our own.
    """

    def __init__(self, transport, username=None, password=None, api_version="latest", token=None, session_id=None,
                 logoff=None, journal=None):
        self.t = transport
        self.username = username
        self._password = password
        self.api_version = api_version
        if token and _HANDOFF in token:  # veeam_em_session's hand-off: the token and its logon session's id
            token, _sep, handed_id = token.partition(_HANDOFF)
            session_id = session_id or handed_id or None
        self._token = token or None
        self.session_id = session_id
        self.user_name = None
        self.owns_session = False
        self.logoff_on_end = logoff
        self.renewals = 0
        self.journal = journal or E.Journal()

    # ------------------------------------------------------------------ the authenticator interface
    @property
    def token(self):
        return self._token

    @property
    def handoff(self):
        """The ``session_token`` veeam_em_session returns: the token, and the logon session's id after ``|``."""
        return "%s%s%s" % (self._token, _HANDOFF, self.session_id) if self.session_id else self._token

    @property
    def can_renew(self):
        return bool(self.username and self._password)

    def headers(self):
        return {EM_TOKEN_HEADER: self._token} if self._token else {}

    def begin(self):
        if not self._token:
            self.logon()

    def refresh_if_due(self):
        """EM sessions do not run out while in use (an idle one ends after 15 minutes): nothing to do."""

    def renew(self):
        self.renewals += 1
        if not self.owns_session:
            self.journal.warn("The Enterprise Manager session token was rejected (expired or logged off); logged on "
                              "again, and this task logs the new session off when it ends")
        self.logon()

    def end(self):
        if self._token and (self.owns_session if self.logoff_on_end is None else self.logoff_on_end):
            self.logoff()

    @staticmethod
    def end_failed(err):
        return "Could not log off from Enterprise Manager (%s); EM ends idle logon sessions after 15 minutes" % err

    # ------------------------------------------------------------------ logon and logoff
    def logon(self):
        """``POST /api/sessionMngr/?v=<api_version>`` with Basic auth; the token comes from the header."""
        if not self.can_renew:
            raise E.AuthError("The Enterprise Manager session has expired or was logged off, and no username and "
                              "password were given to log on again (EM ends idle sessions after 15 minutes)",
                              hint="Log on again with backupops.veeam.veeam_em_session")
        basic = base64.b64encode(("%s:%s" % (self.username, self._password)).encode("utf-8")).decode("ascii")
        resp = send_creating(lambda: self.t.request(
            "POST", "%s?v=%s" % (_EM_LOGON, self.api_version), safe=False, repeat_status=True,
            headers={"Authorization": "Basic " + basic, "Accept": "application/xml", "Content-Length": "0"},
            display_path=_EM_LOGON), self.journal, "the logon to Enterprise Manager", "logon session",
            "ends after 15 minutes idle")
        if resp.status == 401:
            raise E.AuthError("Enterprise Manager rejected the username or password for '%s'" % self.username,
                              status=401, method="POST", path=_EM_LOGON, veeam_message=veeam_message(resp)[0],
                              hint="Check username (DOMAIN\\user) and password; the account needs the Portal "
                                   "Administrator role to start jobs")
        if resp.status in (400, 404) and self.api_version != "latest":
            raise self._version_error(resp)
        if resp.status not in (200, 201):
            raise status_error(resp, "Logon to Enterprise Manager failed")
        token = resp.header(EM_TOKEN_HEADER)
        if not token:
            raise E.ParseError("Enterprise Manager accepted the logon but sent no %s header; is this the "
                               "Enterprise Manager REST API (port 9398, path /api)?" % EM_TOKEN_HEADER,
                               status=resp.status, method="POST", path=_EM_LOGON)
        self._token = token
        self.owns_session = True
        try:
            data = W.parse(resp.body, resp.content_type, "logon response")
        except VeeamError as err:
            # The logon session exists (its token came in the header): end it before failing.
            try:
                self.logoff()
            except VeeamError as why:
                err.message += ("; the logon session it opened could not be ended (%s): it ends after 15 minutes "
                                "idle" % why.message)
            raise
        body = W.root(data)[1] if data is not None else {}
        self.session_id = W.text(body.get("session_id")) or _id_of(body.get("href")) or self.session_id
        self.user_name = W.text(body.get("user_name"))
        return self._token

    def logoff(self):
        """``DELETE /api/logonSessions/{SessionId}`` (204).  Finds the id first when only a token is known.

        Returns True when the session was already gone (expired or logged off: 401 or 404).
        """
        if not self._token:
            return True
        try:
            if not self.session_id:
                self.session_id = self.current_session_id()
            path = "/api/logonSessions/%s" % urllib.parse.quote(str(self.session_id), safe="")
            resp = self.t.request("DELETE", path, headers=dict(self.headers(), Accept="application/xml"),
                                  display_path="/api/logonSessions/{id}", once=True)
            if resp.status not in (200, 204, 401, 404):
                raise status_error(resp, "Logoff from Enterprise Manager failed")
            return resp.status in (401, 404)
        finally:
            self._token = None
            self.owns_session = False

    def current_session_id(self):
        """The SessionId of our token's session, among the ones ``GET /api/logonSessions`` lists (every open
        session of the account): the one the token stands for (:func:`token_session_ids`), or the only one listed.
        Other operators' sessions of the same account are never taken for ours."""
        resp = self.t.request("GET", "/api/logonSessions", headers=dict(self.headers(), Accept="application/xml"))
        if resp.status != 200:
            raise status_error(resp, "Enterprise Manager could not return the logon sessions")
        data = W.parse(resp.body, resp.content_type, "logon sessions")
        body = W.root(data)[1] if data is not None else {}
        items = body if isinstance(body, list) else (body.get("refs") or body.get("logon_sessions")
                                                     or _listed(body) or [])
        ids = [str(W.text(i.get("session_id")) or _id_of(i.get("uid")) or _id_of(i.get("href")) or "").lower()
               for i in items if isinstance(i, dict)]
        ids = [i for i in ids if i]
        ours = [i for i in ids if i in token_session_ids(self._token)]
        if len(ours) == 1:
            return ours[0]
        if len(ids) == 1:
            return ids[0]
        raise E.UsageError("Cannot tell which of the %d logon sessions of this account the session token belongs to; "
                           "pass logon_session_id as well (veeam_em_session state=present returns it, and its "
                           "session_token carries it)" % len(ids))

    def _version_error(self, resp):
        supported = []
        try:
            entry = W.root(W.parse(self.t.request("GET", "/api/").body))[1]
            for version in (entry.get("supported_versions") if isinstance(entry, dict) else None) or []:
                if isinstance(version, dict) and version.get("name"):
                    supported.append(version["name"])
        except VeeamError:
            pass
        return E.UsageError("Enterprise Manager does not offer REST API version %s%s" % (
            self.api_version, "; it offers " + ", ".join(supported) if supported else ""),
            status=resp.status, method="POST", path=_EM_LOGON, hint="Use api_version: latest")


def _listed(body):
    """The list inside a one-key wrapper (``{"logon_session": [...]}``)."""
    for value in body.values() if isinstance(body, dict) else ():
        if isinstance(value, list):
            return value
        if isinstance(value, dict):
            return [value]
    return None


def encode_handoff(kind, fields):
    """A session token to hand to later tasks: ``<kind>:`` and the fields as base64url JSON (opaque to users)."""
    raw = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return "%s:%s" % (kind, base64.urlsafe_b64encode(raw).decode("ascii").rstrip("="))


def decode_handoff(kind, token, module):
    """The fields of a session token :func:`encode_handoff` made, or a UsageError naming ``module``."""
    prefix, _sep, data = str(token or "").strip().partition(":")
    try:
        if prefix != kind:
            raise ValueError(prefix)
        fields = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode("utf-8"))
        if not isinstance(fields, dict) or not fields.get("access"):
            raise ValueError("no access token")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise E.UsageError("session_token is not one that %s returned: register its result and pass its "
                           "session_token" % module) from None
    return fields


class OAuth2Token:
    """An OAuth2 access token from the password grant, for one module run.

    ``token_path`` and ``logout_path`` (None: the API has no logout) are the API's routes; ``headers`` go with
    every token request (VBR's ``x-api-version``).  Subclasses say what a refused login means
    (:meth:`login_refused`).

    ``handed``: the fields of a session token from a session module (``access``, ``refresh``, ``expires`` as epoch
    seconds): the token is used as is, not refreshed before it runs out (a refresh would revoke it for every other
    task of the play), and not logged out at the end (``end_handed``: unless asked, by the session module's
    ``state: absent``).  When it has expired (401), it is refreshed once, or, when the refresh token was used up
    by another task, replaced by a password login if username and password are given.
    """

    product = "Veeam"
    #: How long a token this run may have lost track of lasts (for the warning of :func:`send_creating`).
    lasts = "expires after its lifetime"
    grant_password = "password"
    grant_refresh = "refresh_token"

    def __init__(self, transport, username, password, token_path, logout_path=None, headers=None, journal=None,
                 clock=time.monotonic, retry=None, handed=None, end_handed=False, keep_open=False):
        if not (username and password) and not handed:
            raise E.UsageError("username and password are required")
        self.t = transport
        self.username = username
        self._password = password
        self.token_path = token_path
        self.logout_path = logout_path
        self.extra = dict(headers or {})
        self.journal = journal or E.Journal()
        self.clock = clock
        self.retry = retry
        self._access = None
        self._refresh = None
        self._expires_at = None
        self._lifetime = None
        self.logins = 0
        self.refreshes = 0
        self.handed = bool(handed)
        self.end_handed = end_handed
        self.keep_open = keep_open  # a session module's login, handed on to later tasks: not logged out
        if handed:
            self._access = handed.get("access")
            self._refresh = handed.get("refresh")
            expires = handed.get("expires")
            if isinstance(expires, (int, float)):
                self._expires_at = self.clock() + (float(expires) - time.time())

    # ------------------------------------------------------------------ the authenticator interface
    @property
    def can_renew(self):
        return bool(self._refresh or (self.username and self._password))

    @property
    def expires_epoch(self):
        """When the access token runs out, as epoch seconds (for a session token)."""
        return None if self._expires_at is None else round(time.time() + (self._expires_at - self.clock()))

    def handoff(self, kind, extra=None):
        """A session token for later tasks (see :func:`encode_handoff`)."""
        fields = {"access": self._access, "refresh": self._refresh, "expires": self.expires_epoch}
        fields.update(extra or {})
        return encode_handoff(kind, fields)

    def headers(self):
        return {"Authorization": "Bearer %s" % self._access} if self._access else {}

    def begin(self):
        if not self._access:
            self.login()

    def refresh_if_due(self):
        """Refresh the token when less than a minute (or a tenth of its life) is left (not a handed one: see the
        class)."""
        if self._access and self._expires_at is not None and not self.handed:
            margin = min(60.0, (self._lifetime or 600) / 10.0)
            if self.clock() > self._expires_at - margin:
                self.renew()

    def renew(self):
        """Refresh grant; a refused refresh token (they are single-use) falls back to a new password login."""
        if self._refresh:
            resp, data = self._token_request({"grant_type": self.grant_refresh, "refresh_token": self._refresh},
                                             "the token refresh")
            if data is not None:
                self.refreshes += 1
                return
            if resp.status not in (400, 401, 403):
                raise status_error(resp, "%s token refresh failed" % self.product)
            self._refresh = None
        if not (self.username and self._password):
            raise E.AuthError("The %s session token has expired and could not be refreshed (another task may have used "
                              "its refresh token), and no username and password were given to log in again"
                              % self.product, hint="Give username and password as well as session_token, or log in "
                                                   "again with the session module")
        self.login()

    def end(self):
        try:
            if self._access and self.logout_path and not self.keep_open and (
                    not self.handed or self.end_handed or self.logins or self.refreshes):
                self.logout()
        finally:
            self._access = self._refresh = None

    def end_failed(self, err):
        return "Could not log out from %s (%s); the token expires on its own" % (self.product, err)

    # ------------------------------------------------------------------ the grants
    def login(self):
        """Password grant (form-encoded)."""
        resp, data = self._token_request({"grant_type": self.grant_password, "username": self.username,
                                          "password": self._password}, "the login")
        if data is None:
            raise self.login_refused(resp)
        self.logins += 1

    def login_refused(self, resp):
        if resp.status in (400, 401, 403):
            return E.AuthError("%s rejected the username or password for '%s'" % (self.product, self.username),
                               status=resp.status, method="POST", path=self.token_path,
                               veeam_message=veeam_message(resp)[0], hint="Check username and password")
        return status_error(resp, "%s login failed" % self.product)

    def logout(self):
        """Log the access token out; True when it was gone already (expired or logged out: 401)."""
        resp = self.t.request("POST", self.logout_path, headers=dict(self.extra, Accept="application/json",
                                                                     **self.headers()), safe=True, once=True)
        if resp.status not in (200, 204, 401):
            raise status_error(resp, "%s logout failed" % self.product)
        self._access = None
        return resp.status == 401

    def _token_request(self, form, what):
        """``(response, token document or None)``; a throttled endpoint (429) is waited for, within the retry
        policy, and then reported."""
        headers = dict(self.extra, Accept="application/json")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        resp = send_creating(lambda: self.t.request("POST", self.token_path, data=form, safe=False, repeat_status=True,
                                                    retry=self.retry, headers=headers),
                             self.journal, "%s to %s" % (what, self.product), "token", self.lasts)
        if resp.status == 429:
            policy = self.retry or self.t.retry
            after = retry_after(resp)
            if after is not None and after > policy.cap:
                text = "asks to wait %.0f s before the next one (Retry-After)" % after
            else:
                text = "kept doing so after %d tries" % policy.attempts
            raise E.HttpError("%s throttled %s (429 Quota Exceeded) and %s" % (self.product, what, text), status=429,
                              method="POST", path=self.token_path,
                              hint="Fewer logins per minute help (one login per play: a session module, or the "
                                   "job_run role with several jobs)")
        if resp.status != 200:
            return resp, None
        data = W.parse(resp.body, resp.content_type, "token response")
        if not isinstance(data, dict) or not data.get("access_token"):
            raise E.ParseError("%s answered the token request without an access token" % self.product,
                               status=resp.status, method="POST", path=self.token_path)
        self._access = data["access_token"]
        self._refresh = data.get("refresh_token")
        lifetime = W.as_int(data.get("expires_in"), 3600) or 3600
        self._lifetime = lifetime
        self._expires_at = self.clock() + lifetime
        return resp, data


class Vb365Token(OAuth2Token):
    """A VB365 token: ``POST /vN/token``; the endpoint is throttled for clients that are not on the server itself
    (429 Quota Exceeded), so it is asked with longer and more pauses; logout from v7."""

    product = "VB365"
    lasts = "expires after its lifetime, an hour by default"

    def __init__(self, transport, username, password, routes, journal=None, clock=time.monotonic, retry=None,
                 handed=None, end_handed=False, keep_open=False):
        # VB365 throttles its token endpoint (by default 1 request a second and 5 a minute for clients that are not
        # on the server itself): a Retry-After of up to a minute is waited for.
        super().__init__(transport, username, password, routes.token(),
                         routes.logout() if routes.has_logout else None, journal=journal, clock=clock,
                         retry=retry or RetryPolicy(attempts=6, base=1.0, cap=60.0), handed=handed,
                         end_handed=end_handed, keep_open=keep_open)
        self.version = routes.version

    def login_refused(self, resp):
        if resp.status == 404:
            return E.NotFoundError("VB365 does not serve REST API version %s" % self.version, status=404,
                                   method="POST", path=self.token_path,
                                   hint="Use api_version: auto to detect the versions the server offers")
        err = super().login_refused(resp)
        if isinstance(err, E.AuthError):
            err.hint = "Check username and password; the account needs VB365 REST API access"
        return err


class VbrToken(OAuth2Token):
    """A Veeam Backup & Replication REST token: ``POST /api/oauth2/token`` with the ``x-api-version`` header (every
    VBR request carries it); access tokens live 15 minutes and refresh tokens are single-use; logout
    ``POST /api/oauth2/logout``.  ``grant_type`` is sent as OAuth 2.0 spells it (``password``): the 1.3-rev1
    document writes the enum ``Password``, and clients in the wild send ``password`` to VBR 12 and 13 alike."""

    product = "VBR"
    lasts = "expires after 15 minutes"

    def __init__(self, transport, username, password, revision, journal=None, clock=time.monotonic):
        super().__init__(transport, username, password, "/api/oauth2/token", "/api/oauth2/logout",
                         headers={"x-api-version": revision}, journal=journal, clock=clock)
        self.revision = revision

    def login_refused(self, resp):
        message, code = veeam_message(resp)
        if resp.status == 400 and (code == "NotImplemented" or "version" in str(message or "").lower()):
            return UnsupportedRevision("VBR does not accept REST API revision %s%s" % (
                self.revision, ": %s" % message.rstrip(".") if message else ""), status=400, method="POST", path=self.token_path,
                veeam_message=message, veeam_code=code,
                hint="Use api_version: auto, or the revision of your VBR release (1.1-rev0 for 12.0 up to 1.3-rev1 "
                     "for 13.0.1)")
        err = super().login_refused(resp)
        if isinstance(err, E.AuthError):
            err.hint = ("Check username (DOMAIN\\user) and password; VBR lets Backup Administrators and Backup "
                        "Operators start and stop jobs")
        return err


class UnsupportedRevision(E.UsageError):
    """The VBR server does not accept the ``x-api-version`` revision sent."""
