# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The keys docs/vocabulary.md defines, read from the page itself, so that the tests that pin the views to the
vocabulary fail when the page and the code part ways (whichever of them changed).

``JOB`` and ``SESSION``: the keys of the page's tables (what every API returns); ``JOB_EXTRA`` and
``SESSION_EXTRA``: ``{"EM": {...}, "VB365": {...}, "VBR": {...}}``, the API-specific keys the page lists under
"API-specific keys kept beside them"; ``STATUS_TABLE``: the VB365 status -> state/result table as
``[(statuses, state, result, note)]`` (``state`` None for "the word itself", ``result`` None for null);
``RESTORE_SESSION`` and ``TASK``: the keys of a VB365 restore session and of an EM task.
"""

from __future__ import annotations

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
PAGE = os.path.join(ROOT, "docs", "vocabulary.md")
APIS = ("EM", "VB365", "VBR")

_TICKED = re.compile(r"`([^`]+)`")


def _sections(text):
    """``{heading: body}`` of the page's ``##`` sections."""
    out, heading = {}, None
    for line in text.splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
            out[heading] = []
        elif heading is not None:
            out[heading].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def _table(body, after=None):
    """The rows (lists of cells) of the first table of ``body`` (after the line that starts with ``after``)."""
    lines = body.splitlines()
    if after is not None:
        lines = lines[next(i for i, line in enumerate(lines) if line.startswith(after)):]
    rows, started = [], False
    for line in lines:
        if line.startswith("|"):
            started = True
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(set(cell) <= set("-: ") for cell in cells):
                rows.append(cells)
        elif started:
            break
    return rows[1:]  # without the header


def _keys(body):
    """The keys of a section's table: its first column."""
    return {_TICKED.search(row[0]).group(1) for row in _table(body)}


def _extra(body):
    """``{api: keys}`` of the paragraph "API-specific keys kept beside them: EM `a`, `b`; VB365 ...; VBR ..."; what
    is in parentheses explains a key and is not one."""
    start = body.index("API-specific keys kept beside them:")
    paragraph = body[start:].split("\n\n")[0].split(":", 1)[1]
    paragraph = re.sub(r"\([^)]*\)", "", paragraph.replace("\n", " "))
    out = {}
    for part in paragraph.split(";"):
        api, _sep, rest = part.strip().partition(" ")
        out[api] = set(_TICKED.findall(rest))
    assert set(out) == set(APIS), "docs/vocabulary.md: API-specific keys of %r, not of %r" % (sorted(out), APIS)
    return out


def _listed(body, after):
    """The keys named in the sentence of ``body`` that follows ``after`` (what is in parentheses aside)."""
    sentence = body.split(after, 1)[1].split("\n\n")[0]
    return set(_TICKED.findall(re.sub(r"\([^)]*\)", "", sentence.replace("\n", " "))))


def _status_table(body):
    rows = []
    for statuses, state, result, note in _table(body, after="The state and result of a VB365 session"):
        rows.append((_TICKED.findall(statuses), (_TICKED.findall(state) or [None])[0],
                     (_TICKED.findall(result) or [None])[0], note))
    return rows


with open(PAGE, encoding="utf-8") as _handle:
    _SECTIONS = _sections(_handle.read())

JOB = _keys(_SECTIONS["job"])
JOB_EXTRA = _extra(_SECTIONS["job"])
SESSION = _keys(_SECTIONS["session (a run of a job)"])
SESSION_EXTRA = _extra(_SECTIONS["session (a run of a job)"])
STATUS_TABLE = _status_table(_SECTIONS["session (a run of a job)"])
RESTORE_SESSION = _listed(_SECTIONS["restore session (VB365)"], "returns `restore_session` with ")
TASK = _listed(_SECTIONS["task (EM)"], "(what a start returns): ")


def job_keys(api):
    return JOB | JOB_EXTRA[api]


def session_keys(api):
    return SESSION | SESSION_EXTRA[api]
