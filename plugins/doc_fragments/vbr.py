# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Connection options of the Veeam Backup & Replication REST API modules."""

    DOCUMENTATION = r"""
options:
  server:
    description:
      - The Veeam Backup & Replication server as a hostname, V(host:port) or a URL (V(https://vbr.example.com:9419)).
        A port or scheme in O(server) wins over O(port) and V(https).
      - Required. If not set, the value of the E(VEEAM_VBR_SERVER) environment variable is used.
    type: str
  port:
    description:
      - The port of the VBR REST API.
      - If not set, the value of the E(VEEAM_VBR_PORT) environment variable is used.
    type: int
    default: 9419
  username:
    description:
      - The account to log in with (OAuth2 password grant), for example V(DOMAIN\\user).
      - Starting, stopping and retrying jobs needs a role with the C(StartJobs) and C(StopJobs) claims (Veeam Backup
        Administrator or Veeam Backup Operator); enabling and disabling jobs needs Veeam Backup Administrator.
        VBR refuses the others with HTTP 403, which the module explains.
      - If not set, the value of the E(VEEAM_VBR_USERNAME) environment variable is used.
    type: str
  password:
    description:
      - The password of O(username).
      - If not set, the value of the E(VEEAM_VBR_PASSWORD) environment variable is used.
    type: str
  validate_certs:
    description:
      - Check the server's TLS certificate. Leave this on and give O(ca_path) for a certificate signed by your
        own CA (VBR creates a self-signed one at install); V(false) makes the connection, and the password sent over
        it, open to interception.
      - If not set, the value of the E(VEEAM_VBR_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file with the CA certificate(s) that signed the server's certificate (for VBR's self-signed certificate,
        that certificate itself).
      - If not set, the value of the E(VEEAM_VBR_CA_PATH) environment variable is used; without either, the CA bundle
        that comes with requests (certifi) is used; E(REQUESTS_CA_BUNDLE) and other requests settings from the
        environment are not read.
    type: path
  timeout:
    description:
      - Seconds to wait for the server to answer one request (not how long to wait for a job; see
        O(ignore:wait_timeout) where a module waits).
      - If not set, the value of the E(VEEAM_VBR_TIMEOUT) environment variable is used.
    type: float
    default: 30
  api_version:
    description:
      - The REST API revision sent as C(x-api-version) with every request, such as V(1.3-rev1) (VBR 13.0.1),
        V(1.3-rev0) (13.0), V(1.2-rev1) (12.3.1), V(1.2-rev0) (12.3), V(1.1-rev2) (12.2), V(1.1-rev1) (12.1) or
        V(1.1-rev0) (12.0).
      - V(auto) logs in with the newest revision this collection knows and, when the server refuses it, with the
        next older one. It costs nothing on VBR 13.0.1 and newer (the API is backward compatible, so a newer server
        takes the newest revision the collection knows) and one refused login per newer revision on an older
        server. Give the revision of your servers to save those on VBR 12.
      - The revision decides a few things the modules do - C(state=retried) needs V(1.3-rev0) or later.
    type: str
    default: auto
notes:
  - The modules talk to VBR from where they run; run them on C(localhost) (or in the execution environment).
  - Every module run logs in once, refreshes the access token before its 15 minutes run out during long waits
    (refresh tokens are single-use), and logs out when it ends, also when it fails.
  - Passwords, access tokens and refresh tokens are never printed, also at high verbosity.
requirements:
  - requests >= 2.25
"""
