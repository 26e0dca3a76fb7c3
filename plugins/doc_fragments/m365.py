# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Connection options of the Veeam Backup for Microsoft 365 modules."""

    DOCUMENTATION = r"""
options:
  server:
    description:
      - The Veeam Backup for Microsoft 365 server as a hostname, V(host:port) or a URL
        (V(https://vb365.example.com:4443)). A port or scheme in O(server) wins over O(port) and V(https).
      - Required. If not set, the value of the E(VEEAM_M365_SERVER) environment variable is used.
    type: str
  port:
    description:
      - The port of the VB365 REST API.
      - If not set, the value of the E(VEEAM_M365_PORT) environment variable is used.
    type: int
    default: 4443
  username:
    description:
      - The account to log in with (OAuth2 password grant).
      - If not set, the value of the E(VEEAM_M365_USERNAME) environment variable is used.
    type: str
  password:
    description:
      - The password of O(username).
      - If not set, the value of the E(VEEAM_M365_PASSWORD) environment variable is used.
    type: str
  validate_certs:
    description:
      - Check the server's TLS certificate. Leave this on and give O(ca_path) for a certificate signed by your
        own CA; V(false) makes the connection, and the password sent over it, open to interception.
      - If not set, the value of the E(VEEAM_M365_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file with the CA certificate(s) that signed the server's certificate.
      - If not set, the value of the E(VEEAM_M365_CA_PATH) environment variable is used; without either, the CA bundle
        that comes with requests (certifi) is used; E(REQUESTS_CA_BUNDLE) and other requests settings from the
        environment are not read.
    type: path
  timeout:
    description:
      - Seconds to wait for the server to answer one request (not how long to wait for a job; see
        O(ignore:wait_timeout) where a module waits).
      - If not set, the value of the E(VEEAM_M365_TIMEOUT) environment variable is used.
    type: float
    default: 30
  api_version:
    description:
      - The VB365 REST API version. VB365 8 serves V(v6), V(v7) and V(v8) (and the deprecated V(v5)); VB365 6
        serves V(v6) and older ones; VBO 3 to 5 serve V(v3) to V(v5).
      - V(auto), the default, asks the server which versions it serves (one request without credentials) and uses
        the newest, as V(latest) does for Enterprise Manager and V(auto) for VBR. Give a version to pin it, for
        example to keep a play on one version while the server is upgraded.
      - With O(session_token), the version that M(backupops.veeam.veeam_m365_session) found is used, unless another
        one is given here.
      - The modules send each request the way the chosen version expects; where that changes what a module can do,
        its notes say so.
    type: str
    choices: [v2, v3, v4, v5, v6, v7, v8, auto]
    default: auto
  session_token:
    description:
      - The token of a VB365 login made by M(backupops.veeam.veeam_m365_session), so that a play logs in once and
        every task uses the same token (VB365 throttles its token endpoint, by default to 5 logins a minute for
        clients that are not on the server). It carries the API version the session found.
      - A module given O(session_token) does not log in, and does not log that token out. If the token has expired,
        the module refreshes it once; when another task of the play already used its refresh token, it logs in
        again with O(username) and O(password) if they are given too (and logs that new token out when it ends).
    type: str
notes:
  - The modules talk to VB365 from where they run; run them on C(localhost) (or in the execution environment).
  - Every module run logs in once, unless it is given O(session_token), (refreshing the token during long waits) and,
    from REST API v7, logs out
    when it ends, also when it fails. VB365 throttles its token endpoint (HTTP 429); the modules back off and
    retry.
  - Passwords, access tokens and refresh tokens are never printed, also at high verbosity.
requirements:
  - requests >= 2.25
"""
