# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Do with a custom credential type what AWX / Automation Controller does with it, without AWX.

    python awx_inject.py <credential type YAML> <inputs JSON> <directory for injected files>

1. Validate the type the way AWX does when it is created (awx/main/fields.py, CredentialTypeInputField and
   CredentialTypeInjectorField): field ids, types, defaults and choices; env variable names (no ANSIBLE_ prefix,
   shell names, ASCII templates); every template rendered with StrictUndefined and every field set to 'EXAMPLE'.
2. Inject a credential with the given inputs the way AWX does when a job or an ad-hoc command runs
   (awx/main/models/credential.py, inject_credential): empty string inputs are left out of the namespace, missing
   booleans are False, file templates are written to files named by ``tower.filename``, and every env template is
   rendered (also the ones whose fields were left empty) with a non-strict sandbox.
3. Read the environment variables the collection's modules really read (the env fallbacks of the shared argument
   specs: plugins/module_utils/_module.py, connection_spec).

Prints one JSON document: {"env": {...}, "module_env": {"em": [...], "m365": [...], "vbr": [...]}}.  Exits 1 with a message on
stderr when the type would be refused by AWX.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import tempfile
from types import SimpleNamespace

import yaml
from jinja2 import StrictUndefined, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

ENV_NAME = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")
FILE_KEY = re.compile(r"^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$")
FIELD_KEYS = {"id", "label", "type", "help_text", "secret", "multiline", "choices", "default", "format", "ask_at_runtime"}


class Refused(Exception):
    pass


def validate(ctype):
    for key in ("name", "kind", "inputs", "injectors"):
        if key not in ctype:
            raise Refused("the credential type has no %r" % key)
    if ctype["kind"] not in ("cloud", "net"):
        raise Refused("custom credential types are of kind cloud or net, not %r" % ctype["kind"])
    fields = ctype["inputs"].get("fields", [])
    ids = []
    for field in fields:
        unknown = set(field) - FIELD_KEYS
        if unknown:
            raise Refused("field %r has unknown keys %s" % (field.get("id"), sorted(unknown)))
        if not field.get("id") or not field.get("label"):
            raise Refused("every field needs an id and a label: %r" % field)
        if field["id"] in ids:
            raise Refused("field id %r is used twice" % field["id"])
        ids.append(field["id"])
        kind = field.get("type", "string")
        if kind not in ("string", "boolean"):
            raise Refused("field %r: type must be string or boolean" % field["id"])
        if "default" in field and not isinstance(field["default"], {"string": str, "boolean": bool}[kind]):
            raise Refused("field %r: default %r is not a %s" % (field["id"], field["default"], kind))
        for key in ("choices", "multiline", "format", "secret"):
            if key in field and kind != "string":
                raise Refused("field %r: %s not allowed for %s" % (field["id"], key, kind))
        if "choices" in field and "default" in field and field["default"] not in field["choices"]:
            raise Refused("field %r: default %r is not one of its choices" % (field["id"], field["default"]))
    for required in ctype["inputs"].get("required", []):
        if required not in ids:
            raise Refused("required field %r is not defined" % required)

    injectors = ctype["injectors"]
    unknown = set(injectors) - {"env", "extra_vars", "file"}
    if unknown:
        raise Refused("unknown injector kinds %s" % sorted(unknown))
    for key in injectors.get("file", {}):
        if not FILE_KEY.match(key):
            raise Refused("file injector key %r is not template or template.<name>" % key)
    for name, tmpl in injectors.get("env", {}).items():
        if not ENV_NAME.match(name):
            raise Refused("env injector %r is not a shell variable name" % name)
        if name.startswith("ANSIBLE_"):
            raise Refused("env injector %r may affect Ansible configuration, AWX refuses it" % name)
        if not all(ord(c) < 128 for c in tmpl):
            raise Refused("env injector %r has a non-ASCII template" % name)

    namespace = {field_id: "EXAMPLE" for field_id in ids}
    files = list(injectors.get("file", {}))
    if "template" in files:
        if len(files) > 1:
            raise Refused("must use multi-file syntax when injecting multiple files")
        filename = "EXAMPLE_FILENAME"
    else:
        filename = SimpleNamespace(**{name.split(".", 1)[1]: "EXAMPLE_FILENAME" for name in files})
    namespace["tower"] = SimpleNamespace(filename=filename)
    strict = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    for kind, templates in injectors.items():
        for key, tmpl in templates.items():
            try:
                strict.from_string(tmpl).render(namespace)
            except UndefinedError as err:
                raise Refused("%s injector %r uses an undefined field (%s)" % (kind, key, err)) from err


def inject(ctype, inputs, directory):
    namespace = {}
    for name, value in inputs.items():
        if isinstance(value, bool) or value:
            namespace[name] = value
    for field in ctype["inputs"].get("fields", []):
        if field.get("type") == "boolean" and field["id"] not in inputs:
            namespace[field["id"]] = False
    sandbox = ImmutableSandboxedEnvironment()
    single, several = None, {}
    for label, tmpl in ctype["injectors"].get("file", {}).items():
        handle, path = tempfile.mkstemp(dir=directory)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(sandbox.from_string(tmpl).render(**namespace))
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        if "." in label:
            several[label.split(".", 1)[1]] = path
        else:
            single = path
    namespace["tower"] = SimpleNamespace(filename=single or SimpleNamespace(**several))
    return {name: sandbox.from_string(tmpl).render(**namespace)
            for name, tmpl in ctype["injectors"].get("env", {}).items()}


def module_env():
    """The environment variables of the shared connection options, as the modules' argument specs define them."""
    for root in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep):
        if os.path.isdir(os.path.join(root, "ansible_collections", "backupops", "veeam")):
            sys.path.insert(0, root)
            break
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.backupops.veeam.plugins.module_utils import _em, _m365, _module, _vbr

    def names(conn):
        spec = _module.connection_spec(conn)
        return sorted(name for option in spec.values() if option.get("fallback")
                      for name in option["fallback"][1])
    return {"em": names(_em.CONNECTION), "m365": names(_m365.CONNECTION), "vbr": names(_vbr.CONNECTION)}


def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        ctype = yaml.safe_load(handle)
    inputs = json.loads(sys.argv[2])
    try:
        validate(ctype)
    except Refused as err:
        sys.stderr.write("AWX would refuse this credential type: %s\n" % err)
        return 1
    json.dump({"env": inject(ctype, inputs, sys.argv[3]), "module_env": module_env()}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
