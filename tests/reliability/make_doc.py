"""Write the case tables of docs/reliability.md from a RELIABILITY_REPORT file (what each case really printed).

    RELIABILITY_REPORT=/tmp/reliability.json make reliability WORKSET=rel
    .venv/bin/python tests/reliability/make_doc.py /tmp/reliability.json docs/reliability.md

Replaces what lies between the ``<!-- cases:start -->`` and ``<!-- cases:end -->`` markers.  Ports, times and
session ids change from run to run, so they are written as ``<port>``, ``<time>`` and ``<id>``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

#: The order of the sections, and the heading of each group of areas.
GROUPS = [
    ("Faults", ["503 bursts on reads", "429 on the VB365 token endpoint", "connection dropped after the start",
                "connection dropped before the start", "connection refused", "slower than timeout",
                "EM session expiry mid-wait", "VB365 token expiry mid-wait", "emulator restarted mid-wait"]),
    ("Bad input from users", ["unknown job id or name", "malformed GUID", "empty name", "names with \" ; , ==",
                              "controls", "wrong credentials", "wrong port", "HTTP against HTTPS", "HTTPS against HTTP",
                              "zero or negative timeouts", "conflicting options"]),
    ("Bad input from the server: broken bodies", ["EM logon answer", "EM job lookup", "EM task poll after the start",
                                                  "VB365 token answer", "VB365 job list",
                                                  "VB365 session poll after the start"]),
    ("Bad input from the server: unknown values and missing fields", ["EM: unknown values and missing fields",
                                                                      "VB365: unknown values and missing fields"]),
    ("VBR under faults", ["VBR: 503 bursts on reads", "VBR: 429", "VBR: connection dropped after the start",
                          "VBR: connection dropped before the start", "VBR: connection refused",
                          "VBR: slower than timeout", "VBR: token expiry mid-wait", "VBR: garbage mid-wait"]),
    ("The second round (issue 16)", ["issue 16 (1): restore sessions", "issue 16 (2): time bounds",
                                     "issue 16 (3): ~/.netrc", "issue 16 (4): logons",
                                     "issue 16 (5): parallel starts", "issue 16 (6): logoff", "issue 16 (7): numbers",
                                     "issue 16: smaller"]),
    ("TLS and secrets", ["TLS", "secrets"]),
]
MODULES = {"veeam_em_job_start": "em_job_start", "veeam_em_job_info": "em_job_info", "veeam_task_info": "task_info",
           "veeam_em_session": "em_session", "veeam_m365_job_state": "m365_job_state",
           "veeam_m365_restore_session": "m365_restore_session", "veeam_vbr_job_state": "vbr_job_state",
           "veeam_m365_session": "m365_session", "": "(alone)"}


def normalise(text: str) -> str:
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", text)
    text = re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "<time>", text)
    text = re.sub(r"(?!5658281f-)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", text)
    text = re.sub(r"after \d+\.\d s", "after <n> s", text)
    text = re.sub(r"Gave up waiting after \d+ s", "Gave up waiting after <n> s", text)
    return text


def cell(text: str) -> str:
    return normalise(text).replace("|", "\\|").replace("\n", " ")


def outcome(row: dict) -> str:
    word = "fails" if row["failed"] else "passes"
    if row.get("xfail"):
        word += " (**known bug, strict xfail**)"
    return word


def tables(rows: list[dict]) -> str:
    by_area: dict[str, list[dict]] = {}
    for row in rows:
        by_area.setdefault(row["area"], []).append(row)
    out = []
    for heading, areas in GROUPS:
        out.append(f"### {heading}\n")
        for area in areas:
            items = by_area.pop(area, [])
            if not items:
                continue
            out.append(f"#### {area} ({len(items)})\n")
            out.append("| Case | Module | Outcome | What the user sees (`msg`; warnings after ⚠) |")
            out.append("|---|---|---|---|")
            for row in items:
                seen = cell(row["msg"])
                if row["warnings"]:
                    seen += " ⚠ " + " ⚠ ".join(cell(w) for w in row["warnings"])
                out.append(f"| {cell(row['title'] or row['id'])} | {MODULES.get(row['module'], row['module'])} | "
                           f"{outcome(row)} | {seen} |")
            out.append("")
    assert not by_area, f"areas without a section: {sorted(by_area)}"
    return "\n".join(out)


def main() -> int:
    rows = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    doc = Path(sys.argv[2])
    text = doc.read_text(encoding="utf-8")
    start, end = "<!-- cases:start -->", "<!-- cases:end -->"
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    doc.write_text(f"{head}{start}\n\n{tables(rows)}\n{end}{tail}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
