#!/usr/bin/env bash
# CHANGELOG.rst, generated from changelogs/ (antsibull-changelog), for the version galaxy.yml names.
#
#   tools/changelog.sh <venv> generate   write CHANGELOG.rst at the repository root
#   tools/changelog.sh <venv> check      fail (and show the difference) when CHANGELOG.rst is not what `generate` writes
#
# How: the fragments in changelogs/fragments/ are the source.  While galaxy.yml's version is not released yet
# (not in changelogs/changelog.yaml), the script runs `antsibull-changelog release --version <that version>` in
# a throw-away copy (galaxy.yml, changelogs/, plugins/, roles/, meta/ laid out as
# ansible_collections/backupops/veeam), so the repository's changelog.yaml stays unreleased and CHANGELOG.rst
# shows what a tarball of this version contains: the fragments and the new modules.  Once the version is
# released, the copy runs `antsibull-changelog generate` instead.  CHANGELOG.rst is checked in, so Galaxy,
# Automation Hub (galaxy-importer) and users browsing the repository see it, and `ansible-galaxy collection
# build` packs it with no extra step.
#
# Releasing (not done by this script): in the repository, `antsibull-changelog release` (adds the version and
# its fragments to changelogs/changelog.yaml, writes CHANGELOG.rst), commit, tag, build; then bump galaxy.yml to
# the next version and run `tools/changelog.sh <venv> generate`.
set -euo pipefail
venv=$(cd "$1" && pwd); mode=${2:-check}
root=$(cd "$(dirname "$0")/.." && pwd)
case "$mode" in generate|check) ;; *) echo "usage: $0 <venv> generate|check"; exit 2 ;; esac

version=$(sed -n 's/^version: *//p' "$root/galaxy.yml" | tr -d "\"' ")
[ -n "$version" ] || { echo "changelog: no version in galaxy.yml"; exit 1; }

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
copy="$tmp/ansible_collections/backupops/veeam"
mkdir -p "$copy"
for item in galaxy.yml changelogs plugins roles meta; do
  [ -e "$root/$item" ] && cp -R "$root/$item" "$copy/"
done
rm -f "$copy/changelogs/.plugin-cache.yaml"

export PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$tmp" ANSIBLE_NOCOLOR=1
released=$("$venv/bin/python" - "$copy/changelogs/changelog.yaml" "$version" <<'PY'
import sys, yaml
data = yaml.safe_load(open(sys.argv[1], encoding="utf-8")) or {}
print("yes" if sys.argv[2] in (data.get("releases") or {}) else "no")
PY
)
log="$tmp/antsibull-changelog.log"
if [ "$released" = yes ]; then
  (cd "$copy" && antsibull-changelog generate) >"$log" 2>&1 || { cat "$log"; echo "changelog: antsibull-changelog generate failed"; exit 1; }
else
  (cd "$copy" && antsibull-changelog release --version "$version") >"$log" 2>&1 \
    || { cat "$log"; echo "changelog: antsibull-changelog release failed"; exit 1; }
fi
grep -v '^WARNING Found no release_summary' "$log" || true

if [ "$mode" = generate ]; then
  cp "$copy/CHANGELOG.rst" "$root/CHANGELOG.rst"
  echo "changelog: wrote CHANGELOG.rst for $version ($([ "$released" = yes ] && echo released || echo "unreleased, from the fragments"))"
  exit 0
fi
if [ ! -f "$root/CHANGELOG.rst" ]; then
  echo "changelog: CHANGELOG.rst is missing; run: tools/changelog.sh $venv generate"; exit 1
fi
if ! diff -u "$root/CHANGELOG.rst" "$copy/CHANGELOG.rst" >"$tmp/diff"; then
  cat "$tmp/diff"
  echo "changelog: CHANGELOG.rst is not up to date with changelogs/ (above: what would change); run: tools/changelog.sh $venv generate"
  exit 1
fi
echo "changelog: CHANGELOG.rst is up to date with changelogs/ ($version)"
