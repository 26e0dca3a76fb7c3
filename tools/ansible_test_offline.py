#!/usr/bin/env python
"""Let ``ansible-test --venv`` bootstrap pip without reaching ci-files.testing.ansible.com.

ansible-test creates its per-test virtual environments by running a ``get-pip.py`` bootstrap script that it
downloads from ``https://ci-files.testing.ansible.com/ansible-test/get-pip-<version>.py`` and caches as
``~/.ansible/test/cache/get_pip_<version>.py``.  That host is unreachable here (and for many users behind
proxies), while PyPI is reachable.  This script reads the pip version the installed ansible-test pins,
downloads that pip wheel from PyPI, and writes a stand-in bootstrap script into the cache that installs pip
from the wheel.  Run it with the Python of the virtualenv that holds ansible-test, with ``HOME`` pointing at
the directory ansible-test will use as its home (the Makefile keeps that inside ``.work/``).

Usage: python tools/ansible_test_offline.py
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

STAND_IN = '''"""Stand-in for get-pip.py written by tools/ansible_test_offline.py: installs pip from a local wheel."""
import runpy
import sys

sys.path.insert(0, {wheel!r})
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.argv = ["pip", "install", "--find-links", {wheel_dir!r}] + args
runpy.run_module("pip", run_name="__main__", alter_sys=True)
'''


def pinned_pip_version() -> str:
    """The pip version ansible-test bootstraps into its virtual environments."""
    import ansible_test  # pylint: disable=import-outside-toplevel

    source = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
    match = re.search(r"default_packages = dict\(\s*pip='([0-9.]+)'", source.read_text(encoding="utf-8"))
    if not match:
        raise SystemExit(f"cannot find the pinned pip version in {source}; ansible-test changed its layout")
    return match.group(1)


def main() -> int:
    version = pinned_pip_version()
    cache = pathlib.Path(os.path.expanduser("~/.ansible/test/cache"))
    script = cache / f"get_pip_{version.replace('.', '_')}.py"
    wheel_dir = cache / "wheels"
    wheels = sorted(wheel_dir.glob(f"pip-{version}-*.whl")) if wheel_dir.is_dir() else []
    if not wheels:
        wheel_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                        "--dest", str(wheel_dir), f"pip=={version}"], check=True)
        wheels = sorted(wheel_dir.glob(f"pip-{version}-*.whl"))
        if not wheels:
            raise SystemExit(f"pip {version} wheel did not download into {wheel_dir}")
    text = STAND_IN.format(wheel=str(wheels[0]), wheel_dir=str(wheel_dir))
    if not script.exists() or script.read_text(encoding="utf-8") != text:
        script.write_text(text, encoding="utf-8")
    print(f"ansible-test pip {version} bootstrap: {script}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
