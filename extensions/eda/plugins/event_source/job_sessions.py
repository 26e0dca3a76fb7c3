# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Event source ``backupops.veeam.job_sessions``: one event for every Veeam job session that ends.

The work is done by the collection's own code (``plugins/plugin_utils/_job_sessions.py`` over the clients in
``plugins/module_utils``); this file is ansible-rulebook's entry point, ``main(queue, args)``, which runs the
synchronous client in a worker thread and puts the events on the queue.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sys

DOCUMENTATION = r"""
---
short_description: Report Veeam job sessions as they end
description:
  - An ansible-rulebook event source that polls one Veeam server - Enterprise Manager (V(em)), Veeam Backup &
    Replication REST (V(vbr)) or Veeam Backup for Microsoft 365 (V(m365)) - for job sessions that have ended, and
    puts one event on the queue for each.
  - "Each event is C({veeam: {api, server, job: {id, name, type}, session: {id, state, result, message, started,
    ended}}}): the keys and values the collection's modules return (docs/vocabulary.md), with the session's
    C(creation_time) named C(started) and its C(end_time) named C(ended)."
  - It starts from now (sessions that had ended before it started are not reported) unless O(since) or a
    O(checkpoint) says otherwise; it reports a session once in a run, and with O(checkpoint) not again after a
    restart.
  - One logon session (Enterprise Manager) or token (VBR, VB365) is kept across polls and renewed by the client;
    it is logged off when the source ends. When ansible-rulebook is stopped by a signal, the Java runtime it
    embeds ends the process at once, and the logon session or token expires by itself (Enterprise Manager and VBR
    after 15 minutes, VB365 after its token lifetime).
  - A server that is down, slow or answers garbage does not end the source; the failure is logged and the next
    poll waits longer (doubling up to O(max_backoff)). Wrong credentials, a missing role, bad arguments and a
    failed TLS check end it with a message that says what to do.
  - Needs the Python libraries requests and xmltodict where ansible-rulebook runs (a decision environment).
author:
  - backupops maintainers
options:
  api:
    description:
      - Which Veeam REST API to poll.
    type: str
    required: true
    choices: [em, vbr, m365]
  server:
    description:
      - The server, as the modules take it - a host name, C(host:port) or an C(https://) URL.
      - "Default from the environment variable of the API: E(VEEAM_EM_SERVER), E(VEEAM_VBR_SERVER) or
        E(VEEAM_M365_SERVER)."
    type: str
  port:
    description:
      - The REST API's port (default 9398 for EM, 9419 for VBR, 4443 for VB365).
      - Default from E(VEEAM_EM_PORT), E(VEEAM_VBR_PORT) or E(VEEAM_M365_PORT).
    type: int
  username:
    description:
      - The account the source logs on with; it needs to read sessions (EM Portal Administrator, a VBR role with
        C(ViewSessions), VB365 REST API access).
      - Default from E(VEEAM_EM_USERNAME), E(VEEAM_VBR_USERNAME) or E(VEEAM_M365_USERNAME).
    type: str
  password:
    description:
      - Its password. Never logged.
      - Default from E(VEEAM_EM_PASSWORD), E(VEEAM_VBR_PASSWORD) or E(VEEAM_M365_PASSWORD).
    type: str
  validate_certs:
    description:
      - Whether the server's TLS certificate is checked.
      - Default from E(VEEAM_EM_VALIDATE_CERTS), E(VEEAM_VBR_VALIDATE_CERTS) or E(VEEAM_M365_VALIDATE_CERTS).
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file with the CA certificate that signed the server's certificate.
      - Default from E(VEEAM_EM_CA_PATH), E(VEEAM_VBR_CA_PATH) or E(VEEAM_M365_CA_PATH).
    type: path
  timeout:
    description:
      - Seconds one request may take.
      - Default from E(VEEAM_EM_TIMEOUT), E(VEEAM_VBR_TIMEOUT) or E(VEEAM_M365_TIMEOUT).
    type: float
    default: 30
  api_version:
    description:
      - The REST API version, as the modules take it (EM V(latest), VBR V(auto), VB365 V(v8) by default).
    type: str
  interval:
    description:
      - Seconds between two polls; a session is reported at most this long after it ended (while the server
        answers).
    type: float
    default: 60
  since:
    description:
      - Report the sessions that ended at this time or later (ISO 8601, such as V(2026-11-20T22:00:00Z); no zone
        means UTC) instead of starting from now. A checkpoint that exists wins over it.
    type: str
  checkpoint:
    description:
      - A file where the source writes down which sessions it reported (JSON, mode 0600, replaced atomically
        before the events of a poll are handed on). A restarted source goes on from there, reporting the sessions
        that ended while it was stopped and none twice. Give each source its own file; its directory must exist.
    type: path
  result:
    description:
      - Report only sessions with these results.
    type: list
    elements: str
    choices: [Success, Warning, Failed]
  job_name:
    description:
      - Report only sessions of jobs whose name matches one of these shell-style patterns (V(SQL*),
        V(*Backup?)), compared without regard to case.
    type: list
    elements: str
  lookback:
    description:
      - Seconds before the newest end seen in which the source still looks for sessions, so that one the server
        lists late (Enterprise Manager collects from its backup servers) is not missed; also how far the server's
        clock may be behind this machine's when the source starts.
    type: float
    default: 900
  max_backoff:
    description:
      - The longest pause, in seconds, between polls while the server fails (the pause doubles from twice
        O(interval)).
    type: float
    default: 600
"""

EXAMPLES = r"""
- name: Retry failed Veeam backup jobs
  hosts: localhost
  sources:
    - backupops.veeam.job_sessions:
        api: vbr
        result: [Failed]
        interval: 60
        checkpoint: /var/lib/eda/veeam-vbr.checkpoint
  rules:
    - name: A job failed
      condition: event.veeam.session.result == "Failed"
      action:
        debug:
          msg: "{{ event.veeam.job.name }} failed: {{ event.veeam.session.message }}"
"""

#: From this file's directory (event_source) up through plugins, eda, extensions, veeam and backupops.
_LEVELS_TO_COLLECTIONS = 6


def _collection_code():
    """The collection's ``_job_sessions`` module.  ansible-rulebook runs this file by its path (``runpy``), so the
    ``ansible_collections`` package is importable only when its root is on ``sys.path``: it is added (the root this
    file is installed under) when the import fails."""
    try:
        from ansible_collections.backupops.veeam.plugins.plugin_utils import _job_sessions
    except ImportError:
        here = os.path.dirname(os.path.abspath(__file__))
        collections_dir = os.path.abspath(os.path.join(here, *[os.pardir] * _LEVELS_TO_COLLECTIONS))
        if os.path.basename(collections_dir) != "ansible_collections":
            raise
        root = os.path.dirname(collections_dir)
        if root not in sys.path:
            sys.path.append(root)
        from ansible_collections.backupops.veeam.plugins.plugin_utils import _job_sessions
    return _job_sessions


async def main(queue, args):
    """Poll the server, put the events on ``queue``, until cancelled or a failure that ends the source."""
    code = _collection_code()
    try:
        watcher = code.Watcher(args)
    except code.E.VeeamError as err:
        raise code.SourceError("%s: %s" % (code.NAME, err)) from None
    loop = asyncio.get_running_loop()
    # One worker: every request of the client, the logoff included, goes through it in turn.
    worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="veeam-job-sessions")
    try:
        while True:
            events, pause = await loop.run_in_executor(worker, watcher.step)
            for event in events:
                await queue.put(event)
            await asyncio.sleep(pause)
    finally:
        watcher.stop.set()  # a poll still in flight skips its retry pauses
        try:
            await loop.run_in_executor(worker, watcher.close)
        except asyncio.CancelledError:
            pass
        worker.shutdown(wait=False)


if __name__ == "__main__":

    class _PrintQueue:
        """Print the events (``python job_sessions.py`` with the VEEAM_<API>_* variables set: ``api`` from
        VEEAM_API, default em)."""

        async def put(self, event):
            print(event)

    asyncio.run(main(_PrintQueue(), {"api": os.environ.get("VEEAM_API", "em"), "interval": 10}))
