#!/usr/bin/env bash
# ansible-test sanity on each given ansible-core at once, each in its own copy of the source tree.
#   tools/sanity.sh <work dir> <repository root> -- <venv>:<python X.Y>:<interpreter> [...]
# Each venv's ansible-test checks the same tree with its own controller Python (ansible-test --venv makes its
# virtual environments from <interpreter>); a run's log is shown when all have ended.
#
# The tree is what `git ls-files` lists (tracked files, and new files that .gitignore does not exclude, as they
# are in the working tree now): what a contributor's `ansible-test sanity` in a clone checks, including the files
# the built collection leaves out (tools/, benchmarks/, the Makefile).  It gets a git repository of its own, so
# that ansible-test lists exactly those files.
set -u
work=$1; root=$2; shift 2
[ "${1:-}" = "--" ] && shift
start=$(date +%s)
names=()
for spec in "$@"; do
  IFS=: read -r venv pyver interpreter <<< "$spec"
  version=$("$venv/bin/python" -c 'import ansible.release as r; print(r.__version__)')
  names+=("$version")
  dir="$work/sanity-$version"
  tree="$dir/ansible_collections/backupops/veeam"
  rm -rf "$dir"; mkdir -p "$tree"
  (cd "$root" && git ls-files -z --cached --others --exclude-standard \
     | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
     | tar --null -T - -cf -) | tar -xf - -C "$tree"
  (cd "$tree" && git init -q)
  echo "python $pyver" > "$dir/python"
  (cd "$tree" && "$venv/bin/ansible-test" sanity --venv --python "$pyver" --python-interpreter "$interpreter" \
     --color no >"$dir/log" 2>&1; echo $? > "$dir/rc") &
done
wait
status=0
for version in "${names[@]}"; do
  dir="$work/sanity-$version"
  echo "==================== ansible-test sanity, ansible-core $version, $(cat "$dir/python") (rc=$(cat "$dir/rc"))"
  grep -v -E '^(Collecting|Downloading|  Downloading|Installing collected|Successfully installed|Using cached|Looking in links|Processing |   ━|     ━)' "$dir/log"
  [ "$(cat "$dir/rc")" = 0 ] || status=1
done
for version in "${names[@]}"; do
  echo "sanity on ansible-core $version ($(cat "$work/sanity-$version/python")): rc=$(cat "$work/sanity-$version/rc")"
done
echo "sanity: $(( $(date +%s) - start )) s"
exit $status
