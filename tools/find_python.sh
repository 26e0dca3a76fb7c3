#!/usr/bin/env bash
# Print the real path of a Python X.Y interpreter, or nothing (exit 1) when this machine has none.
#   tools/find_python.sh 3.13
# Looks for `pythonX.Y` on PATH first (a pyenv shim of a version that is installed but not activated exits 127:
# that counts as not found there), then asks pyenv (`pyenv prefix X.Y`, which also finds versions that are not
# activated).  The path printed is the interpreter itself, not a shim: the Makefile runs the tools with HOME
# redirected into .work/, where shims would not resolve.  Run it with the user's own HOME.
set -u
want=${1:?usage: $0 X.Y}
probe() {  # <interpreter>: print its real path if it runs and is Python $want
  "$1" -c 'import os, sys
want = tuple(int(n) for n in sys.argv[1].split("."))
if sys.version_info[:2] == want:
    print(os.path.realpath(sys.executable))' "$want" 2>/dev/null
}
if command -v "python$want" >/dev/null 2>&1; then
  found=$(probe "python$want")
  if [ -n "$found" ]; then echo "$found"; exit 0; fi
fi
if command -v pyenv >/dev/null 2>&1; then
  prefix=$(pyenv prefix "$want" 2>/dev/null | head -1)
  if [ -n "$prefix" ] && [ -x "$prefix/bin/python$want" ]; then
    found=$(probe "$prefix/bin/python$want")
    if [ -n "$found" ]; then echo "$found"; exit 0; fi
  fi
fi
# A pyenv shim on PATH without the pyenv command: the versions live next to the shims directory.
shim=$(command -v "python$want" 2>/dev/null)
case "$shim" in
  */shims/python"$want")
    found=$(printf '%s\n' "${shim%/shims/*}/versions/$want".*/bin/"python$want" | sort -V -r | while read -r candidate; do
      [ -x "$candidate" ] && probe "$candidate" && break
    done)
    if [ -n "$found" ]; then echo "$found"; exit 0; fi ;;
esac
exit 1
