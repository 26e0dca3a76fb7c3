#!/usr/bin/env python
"""Run galaxy-importer on the built tarball, the way Galaxy / Automation Hub would import it, and fail on errors.

galaxy-importer loads every plugin with ansible-doc, checks the metadata, every role's README and runs
ansible-lint.  It exits 0 even when it logs some problems, so this wrapper also fails on ERROR lines.
Its config (GALAXY_IMPORTER_CONFIG) is written into .work so nothing goes to /etc.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

CONFIG = """[galaxy-importer]
LOG_LEVEL_MAIN = INFO
RUN_ANSIBLE_TEST = False
RUN_ANSIBLE_LINT = True
OFFLINE_ANSIBLE_LINT = True
CHECK_REQUIRED_TAGS = True
RUN_FLAKE8 = False
"""


def main() -> int:
    tarball = pathlib.Path(sys.argv[1]).resolve()
    work = pathlib.Path(__file__).resolve().parent.parent / ".work" / "galaxy-importer"
    work.mkdir(parents=True, exist_ok=True)
    cfg = work / "galaxy-importer.cfg"
    cfg.write_text(CONFIG, encoding="utf-8")
    env = dict(os.environ, GALAXY_IMPORTER_CONFIG=str(cfg), HOME=str(work))
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run([sys.executable, "-m", "galaxy_importer.main", str(tarball)], cwd=work, env=env,
                          capture_output=True, text=True, check=False)
    output = proc.stdout + proc.stderr
    problems = [line for line in output.splitlines() if "ERROR" in line or "Traceback" in line]
    warnings = [line for line in output.splitlines() if "WARNING" in line]
    for line in warnings + problems:
        print(line)
    if proc.returncode != 0 or problems:
        print(output[-4000:])
        print(f"galaxy-importer: FAILED (rc={proc.returncode}, {len(problems)} error lines)")
        return 1
    print(f"galaxy-importer: {tarball.name} imports cleanly ({len(warnings)} warnings)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
