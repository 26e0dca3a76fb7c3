#!/usr/bin/env bash
# Check that the collection's execution-environment metadata works with ansible-builder:
#  1. `ansible-builder introspect` on the installed collection finds exactly our Python and system requirements;
#  2. `ansible-builder create` turns an EE definition that installs the built tarball into a build context.
# (There is no container engine here, so the image itself is not built.)
set -euo pipefail
venv=$1; collections=$2; tarball=$3; work=$4
out=$("$venv/bin/ansible-builder" introspect --sanitize "$collections")
echo "$out"
for dep in requests xmltodict; do
  grep -q "${dep}>=.*from collection backupops.veeam" <<<"$out" || { echo "ee-check: ${dep} missing from the introspected requirements"; exit 1; }
done
rm -rf "$work/ee-context" "$work/ee-def"; mkdir -p "$work/ee-def"
cp "$tarball" "$work/ee-def/"
cat > "$work/ee-def/requirements.yml" <<REQ
---
collections:
  - name: collections/$(basename "$tarball")
    type: file
REQ
cat > "$work/ee-def/execution-environment.yml" <<DEF
---
version: 3
images:
  base_image:
    name: quay.io/ansible/ansible-runner:latest
dependencies:
  galaxy: requirements.yml
additional_build_files:
  - src: $(basename "$tarball")
    dest: collections
DEF
"$venv/bin/ansible-builder" create --file "$work/ee-def/execution-environment.yml" --context "$work/ee-context" \
  --output-filename Containerfile >/dev/null
test -s "$work/ee-context/Containerfile"
test -s "$work/ee-context/_build/requirements.yml"
echo "ee-check: introspection lists requests and xmltodict; build context created in $work/ee-context"
