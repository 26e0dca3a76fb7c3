#!/usr/bin/env python
"""Fail when a module is missing from an action group in meta/runtime.yml, or is listed where it does not belong.

ansible-test does not check this.  Rules: every module is in the ``veeam`` group; Enterprise Manager modules
(``veeam_em_*`` and ``veeam_task_info``) are in ``em``; VB365 modules (``veeam_m365_*``) are in ``m365``; VBR
modules (``veeam_vbr_*``) are in ``vbr``; and
the ``attributes.action_group.membership`` each module documents (through the ``attributes.action_group``
doc fragment) matches the groups it is listed in.
"""

from __future__ import annotations

import ast
import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
EM_ONLY = {"veeam_task_info"}


def expected_groups(module: str) -> set[str]:
    groups = {"veeam"}
    if module.startswith("veeam_em_") or module in EM_ONLY:
        groups.add("em")
    elif module.startswith("veeam_m365_"):
        groups.add("m365")
    elif module.startswith("veeam_vbr_"):
        groups.add("vbr")
    return groups


def documented_groups(path: pathlib.Path) -> set[str] | None:
    """The groups named by the module's doc fragments (``backupops.veeam.attributes.<group>_group``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            doc = yaml.safe_load(ast.literal_eval(node.value))
            fragments = doc.get("extends_documentation_fragment", []) or []
            names = {f.rsplit(".", 1)[-1] for f in fragments if f.startswith("backupops.veeam.attributes.")}
            return {n[: -len("_group")] for n in names if n.endswith("_group")} | ({"veeam"} if names else set())
    return None


def main() -> int:
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text(encoding="utf-8")) or {}
    groups: dict[str, list[str]] = runtime.get("action_groups", {}) or {}
    modules = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
    errors = []
    for group in ("veeam", "em", "m365", "vbr"):
        if group not in groups:
            errors.append(f"meta/runtime.yml: action group '{group}' is missing")
    for group, members in groups.items():
        for member in members:
            if member.split(".")[-1] not in modules:
                errors.append(f"meta/runtime.yml: group '{group}' lists '{member}', which is not a module")
    for module in modules:
        listed = {g for g, members in groups.items() if module in {m.split('.')[-1] for m in members}}
        want = expected_groups(module)
        for group in sorted(want - listed):
            errors.append(f"meta/runtime.yml: module '{module}' is missing from action group '{group}'")
        for group in sorted(listed - want):
            errors.append(f"meta/runtime.yml: module '{module}' should not be in action group '{group}'")
        documented = documented_groups(ROOT / "plugins" / "modules" / f"{module}.py")
        if documented is not None and documented != want:
            errors.append(f"plugins/modules/{module}.py: documents action groups {sorted(documented) or 'none'}, "
                          f"expected {sorted(want)} (use the backupops.veeam.attributes.*_group doc fragment)")
    for error in errors:
        print(error)
    print(f"action groups: {len(modules)} modules checked, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
