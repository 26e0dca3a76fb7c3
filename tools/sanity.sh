#!/usr/bin/env bash
# ansible-test sanity on each given ansible-core at once, each in its own copy of the installed collection.
#   tools/sanity.sh <work dir> <installed collection dir> <ansible-test option ...> -- <venv> [<venv> ...]
# Each venv's ansible-test checks the same tree; a run's log is shown when all have ended.
set -u
work=$1; coll=$2; shift 2
opts=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do opts+=("$1"); shift; done
shift
start=$(date +%s)
names=()
for venv in "$@"; do
  version=$("$venv/bin/python" -c 'import ansible.release as r; print(r.__version__)')
  names+=("$version")
  dir="$work/sanity-$version"
  rm -rf "$dir"; mkdir -p "$dir/ansible_collections/backupops"
  cp -a "$coll" "$dir/ansible_collections/backupops/veeam"
  rm -rf "$dir/ansible_collections/backupops/veeam/tests/output"
  (cd "$dir/ansible_collections/backupops/veeam" && "$venv/bin/ansible-test" sanity "${opts[@]}" >"$dir/log" 2>&1; echo $? > "$dir/rc") &
done
wait
status=0
for version in "${names[@]}"; do
  dir="$work/sanity-$version"
  echo "==================== ansible-test sanity, ansible-core $version (rc=$(cat "$dir/rc"))"
  grep -v -E '^(Collecting|Downloading|  Downloading|Installing collected|Successfully installed|Using cached|Looking in links|Processing |   ━)' "$dir/log"
  [ "$(cat "$dir/rc")" = 0 ] || status=1
done
for version in "${names[@]}"; do echo "sanity on ansible-core $version: rc=$(cat "$work/sanity-$version/rc")"; done
echo "sanity: $(( $(date +%s) - start )) s"
exit $status
