#!/usr/bin/env python
"""Parse DOCUMENTATION, EXAMPLES and RETURN of every module and doc fragment as YAML (a fast pre-check)."""

from __future__ import annotations

import ast
import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main() -> int:
    bad = 0
    files = sorted((ROOT / "plugins" / "modules").glob("*.py")) + sorted((ROOT / "plugins" / "doc_fragments").glob("*.py"))
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                name = getattr(node.targets[0], "id", "")
                if name.isupper():
                    try:
                        yaml.safe_load(node.value.value)
                    except yaml.YAMLError as exc:
                        bad += 1
                        print(f"{path.relative_to(ROOT)} {name}: {exc}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
