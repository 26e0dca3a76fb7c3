#!/usr/bin/env python
"""Run what the documentation tells a user to type, as printed, against a running emulator.

    tools/doc_commands.py list [--root DIR]                   what would run, and from where
    tools/doc_commands.py run <endpoints.json> [--root DIR] [--only commands|examples] [--jobs N]

Two kinds of copy-paste material are collected:

* **Command lines.** Every fenced ``sh``/``bash``/``shell`` block of README.md, docs/*.md and roles/*/README.md
  that holds an ``ansible`` or ``ansible-playbook`` command, every ``$ ansible...`` line of a ``text`` block
  (a transcript), and every ``#   ansible-playbook ...`` line of the header comment of an examples/ playbook.
  A block runs as one bash script, its commands in order and as written (continuation lines, ``$(...)``,
  variables one command sets for the next), in a scratch directory where ``examples/`` and ``tools/`` are
  links into the checkout.  Every playbook of examples/ runs too, as ``ansible-playbook -i localhost, -c local
  examples/<name>`` and with ``--check``.  Left out are only the lines that set up what this harness has set up already:
  ``make ...``, ``ansible-galaxy collection install``, ``pip install``, ``eval "$(tools/emulator_env.sh ...)"``
  and the ``export`` of the connection (``VEEAM_EM_SERVER`` ...), ``PATH`` and ``ANSIBLE_COLLECTIONS_PATH``: the
  environment points them at the emulator under test, which listens on free ports.  A command must exit 0,
  unless its own comment, or the comment lines right above it, say ``fails:`` (then it must exit non-zero).
* **Module EXAMPLES.** Every module's EXAMPLES (a task list, or whole plays) become plays of one playbook, one
  module after another, each after an emulator reset.  The examples name the emulator's jobs; the connection
  placeholders are pointed at the emulator: ``server: em.example.com`` (``vb365.example.com``,
  ``vbo.example.com``, ``vbr.example.com``) becomes the emulator's URL, a ``ca_path`` under ``/etc/pki/`` its CA,
  and ``vault_*_username`` / ``vault_*_password`` are play variables with the emulator's accounts.  A few
  examples go on from what an earlier task of the play registered (``em``, ``started``, ``em_logon``,
  ``vb365``); FIXTURES below makes those first and logs off after.

After each block and each module, no Enterprise Manager logon session and no VB365 or VBR token may be left
open.  Exit status 0 when everything ran as documented.
"""
import argparse
import ast
import concurrent.futures
import glob
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import yaml

DOCS = ("README.md", "docs/*.md", "roles/*/README.md")
COMMAND = re.compile(r"^(?:[A-Za-z_][A-Za-z_0-9]*=\$\()?(ansible|ansible-playbook)\s")
SETUP = re.compile(r"^(make\b|ansible-galaxy collection install\b|python3? -m pip install\b|pip3? install\b|"
                   r"eval \"\$\(tools/emulator_env\.sh|export (VEEAM_(EM|M365|VBR)_(SERVER|PORT|USERNAME|PASSWORD|"
                   r"CA_PATH|VALIDATE_CERTS|TIMEOUT)|PATH|ANSIBLE_COLLECTIONS_PATH)=)")
FAILS = re.compile(r"\bfails:")

# Placeholders of the EXAMPLES -> which API of the emulator.
SERVERS = {"em.example.com": "em", "vb365.example.com": "m365", "vbo.example.com": "m365", "vbr.example.com": "vbr"}
ACCOUNTS = {"em": ("VEEAM\\ansible-admin", "Em#Adm1n-Ans1ble-2026!x"),
            "m365": ("svc-ansible@contoso.example", "M365#Adm1n-Ans1ble-2026!z"),
            "vbr": ("VEEAM\\ansible-vbr", "Vbr#Adm1n-Ans1ble-2026!y")}
VAULT = {"em": "em", "m365": "m365", "vb365": "m365", "vbr": "vbr"}

# What some EXAMPLES take from earlier tasks of the play: made before them, ended after them.
_EM_LOGON = {"name": "Fixture - log on to Enterprise Manager", "backupops.veeam.veeam_em_session": None,
             "no_log": True}
_EM_LOGOFF = {"name": "Fixture - log off", "backupops.veeam.veeam_em_session": {
    "state": "absent", "session_token": "{{ %s.session_token }}"}}
FIXTURES = {
    "veeam_task_info": (
        [dict(_EM_LOGON, register="em"),
         {"name": "Fixture - start a job without waiting, in that logon session",
          "backupops.veeam.veeam_em_job_start": {"job_name": "Daily SQL Backup", "wait": False,
                                                 "session_token": "{{ em.session_token }}"},
          "register": "started"}],
        [{"name": "Fixture - log off", "backupops.veeam.veeam_em_session": {
            "state": "absent", "session_token": "{{ em.session_token }}"}}]),
    "veeam_em_job_state": (
        [dict(_EM_LOGON, register="em_logon")],
        [{"name": "Fixture - log off", "backupops.veeam.veeam_em_session": {
            "state": "absent", "session_token": "{{ em_logon.session_token }}"}}]),
    "veeam_m365_job_info": (
        [{"name": "Fixture - log in to VB365", "backupops.veeam.veeam_m365_session": None, "register": "vb365",
          "no_log": True}],
        [{"name": "Fixture - log out", "backupops.veeam.veeam_m365_session": {
            "state": "absent", "session_token": "{{ vb365.session_token }}"}}]),
}


# ------------------------------------------------------------------------------------------------ extraction
def doc_files(root):
    files = []
    for pattern in DOCS:
        files += sorted(glob.glob(os.path.join(root, pattern)))
    return files


def _comment_of(line):
    """The trailing ``# ...`` of a shell line (outside quotes), or ''."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[i:]
    return ""


def _commands(lines):
    """``[(text, expect_failure, skipped)]`` of the lines of one shell block: continuation lines joined."""
    out, comments, current = [], [], []
    for line in lines:
        stripped = line.strip()
        if not current:
            if not stripped:
                comments = []
                continue
            if stripped.startswith("#"):
                comments.append(stripped)
                continue
        current.append(line)
        if line.rstrip().endswith("\\"):
            continue
        text = "\n".join(current)
        current = []
        first = text.strip()
        fails = any(FAILS.search(c) for c in comments) or any(FAILS.search(_comment_of(ln)) for ln in text.split("\n"))
        out.append((text, fails, bool(SETUP.match(first))))
        comments = []
    return out


def command_blocks(root):
    """``[{"where": "docs/x.md:12", "commands": [(text, expect_failure), ...]}]``: what a user would paste."""
    blocks = []
    for path in doc_files(root):
        rel = os.path.relpath(path, root)
        lines = open(path, encoding="utf-8").read().split("\n")
        i = 0
        while i < len(lines):
            m = re.match(r"^\s*```(\w*)\s*$", lines[i])
            if not m:
                i += 1
                continue
            lang, start, i = m.group(1), i + 1, i + 1
            body = []
            while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
                body.append(lines[i])
                i += 1
            i += 1
            indent = min((len(ln) - len(ln.lstrip()) for ln in body if ln.strip()), default=0)
            body = [ln[indent:] for ln in body]
            if lang in ("sh", "bash", "shell"):
                cmds = _commands(body)
            elif lang in ("text", "console", ""):
                cmds = [(ln[2:], bool(FAILS.search(_comment_of(ln))), False) for ln in body
                        if ln.startswith("$ ") and COMMAND.match(ln[2:])]
            else:
                continue
            if any(COMMAND.match(text.strip()) and not skipped for text, _fails, skipped in cmds):
                blocks.append({"where": "%s:%d" % (rel, start),
                               "commands": [(t, f) for t, f, skipped in cmds if not skipped]})
    for path in sorted(os.listdir(os.path.join(root, "examples"))):
        if not path.endswith((".yml", ".yaml")):
            continue
        rel = "examples/" + path
        for n, line in enumerate(open(os.path.join(root, rel), encoding="utf-8")):
            if line.strip() == "---":
                continue
            if not line.startswith("#"):
                break
            text = line[1:].strip()
            if COMMAND.match(text) and text != "ansible-playbook -i localhost, -c local " + rel:  # run as it is
                blocks.append({"where": "%s:%d" % (rel, n + 1), "commands": [(text, bool(FAILS.search(text)))]})
    return blocks


def example_playbooks(root):
    """Every playbook of examples/ as a user runs it, for real and in check mode (a dry run is a newcomer's first
    try), as blocks of one command each."""
    blocks = []
    for path in sorted(os.listdir(os.path.join(root, "examples"))):
        if path.endswith((".yml", ".yaml")):
            command = "ansible-playbook -i localhost, -c local examples/%s" % path
            blocks += [{"where": "examples/%s" % path, "commands": [(command, False)]},
                       {"where": "examples/%s --check" % path, "commands": [(command + " --check", False)]}]
    return blocks


#: Files a documented command writes, and a line each must hold (a CSV row of the emulator's first job).
WRITES = {"report_file=veeam-jobs.csv": ("veeam-jobs.csv", '"Daily SQL Backup","backup","vbr01.lab.local",')}


def module_examples(root):
    """``{module: parsed EXAMPLES}`` of every module."""
    out = {}
    mod_dir = os.path.join(root, "plugins", "modules")
    for name in sorted(os.listdir(mod_dir)):
        if not name.endswith(".py") or name.startswith("_"):
            continue
        tree = ast.parse(open(os.path.join(mod_dir, name), encoding="utf-8").read())
        for node in tree.body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "EXAMPLES":
                out[name[:-3]] = yaml.safe_load(node.value.value)
    return out


def _point_at_emulator(value, env):
    """Replace the connection placeholders of an EXAMPLES structure with the emulator's."""
    if isinstance(value, list):
        return [_point_at_emulator(v, env) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key == "server" and item in SERVERS:
            item = env["VEEAM_%s_SERVER" % SERVERS[item].upper()]
        elif key == "ca_path" and isinstance(item, str) and item.startswith("/etc/pki/"):
            item = env["VEEAM_EM_CA_PATH"]
        out[key] = _point_at_emulator(item, env)
    return out


def examples_playbook(root, env, control, modules=None):
    """One playbook with the EXAMPLES of ``modules`` (default: all), each module after an emulator reset."""
    variables = {"ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    for prefix, api in VAULT.items():
        variables["vault_%s_username" % prefix], variables["vault_%s_password" % prefix] = ACCOUNTS[api]
    reset = {"name": "Reset the emulator", "ansible.builtin.uri": {
        "url": control + "/reset", "method": "POST", "ca_path": env["VEEAM_EM_CA_PATH"]}}
    plays = []
    for module, examples in module_examples(root).items():
        if modules is not None and module not in modules:
            continue
        examples = _point_at_emulator(examples, env)
        before, after = FIXTURES.get(module, ([], []))
        if examples and "hosts" in examples[0]:
            for n, play in enumerate(examples):
                play = dict(play, name="%s EXAMPLES: %s" % (module, play.get("name", n)))
                play["vars"] = dict(variables, **(play.get("vars") or {}))
                play["pre_tasks"] = [reset] + before + (play.get("pre_tasks") or [])
                play["post_tasks"] = (play.get("post_tasks") or []) + after
                plays.append(play)
        else:
            plays.append({"name": "%s EXAMPLES" % module, "hosts": "localhost", "gather_facts": False,
                          "vars": variables, "tasks": [reset] + before + examples + after})
    return plays


# ------------------------------------------------------------------------------------------------ running
def _env(endpoints, py):
    text = subprocess.run([os.path.join(ROOT, "tools", "emulator_env.sh"), endpoints, py], check=True,
                          capture_output=True, text=True).stdout
    env = {}
    for line in text.splitlines():
        name, value = line[len("export "):].split("=", 1)
        env[name] = subprocess.run(["bash", "-c", "printf %s " + value], capture_output=True, text=True,
                                   check=True).stdout
    return env


def _control(env, what):
    ctx = ssl.create_default_context(cafile=env["VEEAM_EM_CA_PATH"])
    base = env["EMULATOR_CONTROL"]
    if what == "reset":
        urllib.request.urlopen(urllib.request.Request(base + "/reset", method="POST"), context=ctx, timeout=30).read()
        return None
    counters = json.load(urllib.request.urlopen(base + "/counters", context=ctx, timeout=30))
    if what == "sent":  # job starts and actions (stop, retry, enable, disable, toggle) the APIs were sent
        return sum(n for api in ("em", "m365", "vbr") for key in ("starts", "actions")
                   for value in (counters.get(api, {}).get(key) or {}).values()
                   for n in (value.values() if isinstance(value, dict) else [value]) if isinstance(n, int))
    return (counters["em"]["open_sessions"], counters.get("m365", {}).get("open_tokens", 0),
            counters.get("vbr", {}).get("open_tokens", 0))


def _scratch(root):
    work = tempfile.mkdtemp(prefix="doc-commands-")
    for name in ("examples", "tools"):
        os.symlink(os.path.join(root, name), os.path.join(work, name))
    return work


def run_block(block, env, root, log):
    """Run one block's commands in one bash; ``(ok, lines of the report)``."""
    work = _scratch(root)
    status = os.path.join(work, ".status")
    script = ["cd %s" % json.dumps(work)]
    for n, (text, _fails) in enumerate(block["commands"]):
        script += [text, "__rc=$?; printf '%d %d\\n' {0} $__rc >> {1}".format(n, json.dumps(status))]
    start = time.time()
    # TMPDIR: a playbook that keeps a file there (maintenance_window.yml) may run elsewhere at the same time.
    proc = subprocess.run(["bash", "-c", "\n".join(script)], env=dict(env, TMPDIR=work), capture_output=True,
                          text=True, timeout=900, check=False)
    elapsed = time.time() - start
    with open(log, "a", encoding="utf-8") as fh:
        fh.write("\n==== %s\n---- script\n%s\n---- output\n%s%s"
                 % (block["where"], "\n".join(script), proc.stdout, proc.stderr))
    problems = []
    for text, _fails in block["commands"]:
        for marker, (name, row) in WRITES.items():
            if marker in text:
                target = os.path.join(work, name)
                if not os.path.exists(target) or not any(ln.startswith(row) for ln in open(target, encoding="utf-8")):
                    problems.append("%s was not written, or has no row starting %s" % (name, row))
    seen = {}
    if os.path.exists(status):
        for line in open(status):
            n, rc = line.split()
            seen[int(n)] = int(rc)
    shutil.rmtree(work, ignore_errors=True)
    for n, (text, fails) in enumerate(block["commands"]):
        first = text.strip().split("\n")[0][:100]
        if n not in seen:
            problems.append("did not run: %s" % first)
        elif fails and seen[n] == 0:
            problems.append("documented to fail, exited 0: %s" % first)
        elif not fails and seen[n] != 0:
            problems.append("exit %d: %s" % (seen[n], first))
    return problems, elapsed


def _report(where, problems, elapsed, what):
    details = "".join("\n            " + p for p in problems)
    print("   %-8s %s (%s, %.0f s)%s" % ("ok" if not problems else "FAILED", where, what, elapsed, details), flush=True)
    return (where, problems, elapsed)


def run_command_block(block, env, root, log):
    _control(env, "reset")
    problems, elapsed = run_block(block, env, root, log)
    still = _control(env, "open")
    if still != (0, 0, 0):
        problems.append("left open: EM sessions, VB365 tokens, VBR tokens = %s" % (still,))
    if all(" --check" in text for text, _fails in block["commands"]):
        sent = _control(env, "sent")
        if sent:
            problems.append("check mode sent %d job start(s) or action(s) to the emulator" % sent)
    return _report(block["where"], problems, elapsed, "%d commands" % len(block["commands"]))


def run_examples(modules, env, root, log):
    """The EXAMPLES of ``modules`` as one playbook."""
    work = _scratch(root)
    playbook = os.path.join(work, "module_examples.yml")
    with open(playbook, "w", encoding="utf-8") as fh:
        yaml.safe_dump(examples_playbook(root, env, env["EMULATOR_CONTROL"], modules), fh, sort_keys=False,
                       allow_unicode=True)
    _control(env, "reset")
    start = time.time()
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", playbook], env=env,
                          capture_output=True, text=True, timeout=900, cwd=work, check=False)
    elapsed = time.time() - start
    with open(log, "a", encoding="utf-8") as fh:
        fh.write("\n==== EXAMPLES of %s\n%s%s" % (", ".join(modules), proc.stdout, proc.stderr))
    shutil.rmtree(work, ignore_errors=True)
    problems = []
    if proc.returncode != 0:
        plays = re.findall(r"^PLAY \[(.*?)\]", proc.stdout, re.M)
        problems.append("ansible-playbook rc=%d (in the play %s; see the log)" % (
            proc.returncode, plays[-1] if plays else "?"))
    still = _control(env, "open")
    if still != (0, 0, 0):
        problems.append("left open: EM sessions, VB365 tokens, VBR tokens = %s" % (still,))
    return _report("EXAMPLES of " + ", ".join(modules), problems, elapsed, "%d modules" % len(modules))


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("what", choices=("list", "run"))
    parser.add_argument("endpoints", nargs="*", help="endpoints.json of a running emulator (one per parallel job)")
    parser.add_argument("--root", default=ROOT)
    parser.add_argument("--only", choices=("commands", "examples"))
    parser.add_argument("--log", default=None, help="where the output of every command goes")
    args = parser.parse_args(argv)
    blocks = command_blocks(args.root) + example_playbooks(args.root)
    if args.what == "list":
        for block in blocks:
            print("== %s" % block["where"])
            for text, fails in block["commands"]:
                print("   %s%s" % ("(fails) " if fails else "", text.replace("\n", "\n   ")))
        print("== module EXAMPLES: %s" % ", ".join(module_examples(args.root)))
        return 0
    if not args.endpoints:
        parser.error("run needs the endpoints.json of a running emulator")
    log = args.log or os.path.join(tempfile.gettempdir(), "doc_commands.log")
    open(log, "w").close()
    envs = []
    for endpoints in args.endpoints:
        env = dict(os.environ)
        env.update(_env(endpoints, sys.executable))
        env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
        envs.append(env)
    # The work, longest first: the EXAMPLES of each API's modules as one playbook, then the command blocks.  Each
    # emulator takes the next piece when it is free (one thread per emulator).
    work = []
    if args.only in (None, "examples"):
        names = list(module_examples(args.root))
        for api in ("em", "m365", "vbr", ""):
            group = [m for m in names if m.startswith("veeam_%s_" % api)] if api else \
                [m for m in names if not re.match(r"veeam_(em|m365|vbr)_", m)]
            if api == "em":  # veeam_task_info reads EM tasks
                group += [m for m in names if not re.match(r"veeam_(em|m365|vbr)_", m)]
            if group and api:
                work.append(lambda env, lg, group=group: run_examples(group, env, args.root, lg))
    if args.only in (None, "commands"):
        # A whole playbook costs more than an ad-hoc command, examples/maintenance_window.yml most.
        def cost(block):
            return sum((80 if "maintenance_window" in t else 20 if "ansible-playbook" in t else 6)
                       / (2 if "--check" in t else 1) for t, _f in block["commands"])
        for block in sorted(blocks, key=cost, reverse=True):
            work.append(lambda env, lg, block=block: run_command_block(block, env, args.root, lg))
    print("== documented command lines (%d blocks) and module EXAMPLES, against %d emulator(s); output in %s"
          % (len(blocks), len(envs), log), flush=True)
    start = time.time()
    results = []
    logs = ["%s.%d" % (log, n) for n in range(len(envs))]
    queue = list(reversed(work))
    lock = threading.Lock()

    def lane(n):
        done = []
        while True:
            with lock:
                if not queue:
                    return done
                job = queue.pop()
            done.append(job(envs[n], logs[n]))

    with concurrent.futures.ThreadPoolExecutor(len(envs)) as pool:
        for future in [pool.submit(lane, n) for n in range(len(envs))]:
            results += future.result()
    with open(log, "a", encoding="utf-8") as out:
        for part in logs:
            if os.path.exists(part):
                out.write(open(part, encoding="utf-8").read())
                os.remove(part)
    failed = [r for r in results if r[1]]
    print("== documented command lines and EXAMPLES: %d ran, %d failed, %.0f s" % (
        len(results), len(failed), time.time() - start))
    for where, problems, _elapsed in failed:
        print("   FAILED  %s: %s" % (where, "; ".join(problems)))
    if failed:
        print("   (the output of every command: %s)" % log)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
