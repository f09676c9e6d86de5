#!/usr/bin/env python3
"""Validate .circleci/config.yml against SchemaStore's CircleCI schema, offline.

SchemaStore's circleciconfig.json is a $ref to CircleCI's own schema (circleci-yaml-language-
server/schema.json); both are stored in schemas/circleci and the remote $ref is served from
the stored copy. Usage: validate_circleci.py SCHEMA_DIR CONFIG.yml
"""
import json
import os
import sys

import jsonschema
import yaml
from referencing import Registry, Resource

REMOTE = "https://raw.githubusercontent.com/CircleCI-Public/circleci-yaml-language-server/refs/heads/main/schema.json"


def main(schema_dir, config_path):
    with open(os.path.join(schema_dir, "schemastore-circleciconfig.json")) as f:
        root = json.load(f)
    with open(os.path.join(schema_dir, "circleci-yaml-language-server-schema.json")) as f:
        target = json.load(f)
    if root.get("$ref") != REMOTE:
        print(f"SchemaStore's schema now points at {root.get('$ref')}: update schemas/circleci")
        return 1
    registry = Registry().with_resource(REMOTE, Resource.opaque(target))
    with open(config_path) as f:
        config = yaml.safe_load(f)
    validator = jsonschema.Draft7Validator(root, registry=registry)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    for e in errors:
        best = jsonschema.exceptions.best_match([e])
        print(f"  {'/'.join(map(str, best.absolute_path)) or '<root>'}: {best.message[:300]}")
    # The schema admits almost any mapping under `jobs`; check the references it cannot.
    problems = []
    jobs = set(config.get("jobs", {}))
    for wf_name, wf in config.get("workflows", {}).items():
        if not isinstance(wf, dict):
            continue
        for item in wf.get("jobs", []):
            name, spec = (item, {}) if isinstance(item, str) else next(iter(item.items()))
            if name not in jobs:
                problems.append(f"workflow {wf_name}: job {name} is not defined")
            for req in (spec or {}).get("requires", []):
                if req not in jobs:
                    problems.append(f"workflow {wf_name}: {name} requires undefined job {req}")
    for p in problems:
        print(f"  {p}")
    print(f"{config_path}: {'valid' if not errors and not problems else 'INVALID'}")
    return 1 if errors or problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
