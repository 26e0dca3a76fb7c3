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
import time
import urllib.parse

from ansible_collections.backupops.veeam.plugins.module_utils import _errors as E
from ansible_collections.backupops.veeam.plugins.module_utils import _wire as W
from ansible_collections.backupops.veeam.plugins.module_utils._client import status_error, veeam_message
from ansible_collections.backupops.veeam.plugins.module_utils._errors import VeeamError
from ansible_collections.backupops.veeam.plugins.module_utils._http import RetryPolicy

EM_TOKEN_HEADER = "X-RestSvcSessionId"
_EM_LOGON = "/api/sessionMngr/"


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
        resp = self.t.request("POST", "%s?v=%s" % (_EM_LOGON, self.api_version), safe=True,
                              headers={"Authorization": "Basic " + basic, "Accept": "application/xml",
                                       "Content-Length": "0"}, display_path=_EM_LOGON)
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
        except VeeamError:
            # The logon session exists (its token came in the header): end it before failing.
            try:
                self.logoff()
            except VeeamError:
                pass
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
                                  display_path="/api/logonSessions/{id}")
            if resp.status not in (200, 204, 401, 404):
                raise status_error(resp, "Logoff from Enterprise Manager failed")
            return resp.status in (401, 404)
        finally:
            self._token = None
            self.owns_session = False

    def current_session_id(self):
        """The SessionId of our token's session: the one logon session ``GET /api/logonSessions`` shows us."""
        resp = self.t.request("GET", "/api/logonSessions", headers=dict(self.headers(), Accept="application/xml"))
        if resp.status != 200:
            raise status_error(resp, "Enterprise Manager could not return the logon sessions")
        data = W.parse(resp.body, resp.content_type, "logon sessions")
        body = W.root(data)[1] if data is not None else {}
        items = body if isinstance(body, list) else (body.get("refs") or body.get("logon_sessions")
                                                     or _listed(body) or [])
        ids = [W.text(i.get("session_id")) or _id_of(i.get("uid")) or _id_of(i.get("href"))
               for i in items if isinstance(i, dict)]
        ids = [i for i in ids if i]
        if len(ids) != 1:
            raise E.UsageError("Cannot tell which logon session the session token belongs to (%d listed); pass "
                               "session_id as well" % len(ids))
        return ids[0]

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


class OAuth2Token:
    """An OAuth2 access token from the password grant, for one module run.

    ``token_path`` and ``logout_path`` (None: the API has no logout) are the API's routes; ``headers`` go with
    every token request (VBR's ``x-api-version``).  Subclasses say what a refused login means
    (:meth:`login_refused`).
    """

    product = "Veeam"
    grant_password = "password"
    grant_refresh = "refresh_token"

    def __init__(self, transport, username, password, token_path, logout_path=None, headers=None, journal=None,
                 clock=time.monotonic, retry=None):
        if not (username and password):
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

    # ------------------------------------------------------------------ the authenticator interface
    can_renew = True

    def headers(self):
        return {"Authorization": "Bearer %s" % self._access} if self._access else {}

    def begin(self):
        self.login()

    def refresh_if_due(self):
        """Refresh the token when less than a minute (or a tenth of its life) is left."""
        if self._access and self._expires_at is not None:
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
        self.login()

    def end(self):
        try:
            if self._access and self.logout_path:
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
        resp = self.t.request("POST", self.logout_path, headers=dict(self.extra, Accept="application/json",
                                                                     **self.headers()), safe=True)
        if resp.status not in (200, 204, 401):
            raise status_error(resp, "%s logout failed" % self.product)
        self._access = None

    def _token_request(self, form, what):
        """``(response, token document or None)``; a throttled endpoint (429) is waited for, within the retry
        policy, and then reported."""
        headers = dict(self.extra, Accept="application/json")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        resp = self.t.request("POST", self.token_path, data=form, safe=True, retry=self.retry, headers=headers)
        if resp.status == 429:
            attempts = (self.retry or self.t.retry).attempts
            raise E.HttpError("%s throttled %s (429 Quota Exceeded) and kept doing so after %d tries"
                              % (self.product, what, attempts), status=429, method="POST", path=self.token_path,
                              hint="Fewer logins per minute help: %s limits its token endpoint" % self.product)
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

    def __init__(self, transport, username, password, routes, journal=None, clock=time.monotonic, retry=None):
        super().__init__(transport, username, password, routes.token(),
                         routes.logout() if routes.has_logout else None, journal=journal, clock=clock,
                         retry=retry or RetryPolicy(attempts=6, base=1.0, cap=20.0))
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
