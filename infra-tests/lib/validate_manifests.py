#!/usr/bin/env python3
"""Validate rendered Kubernetes manifests, offline.

Built-in kinds: kubernetes-validate (its bundled schemas, strict: unknown fields fail).
CRD kinds (SpinKube, Istio, Gateway API): the JSON schemas in infra-tests/schemas/crds, derived from the CRDs'
openAPIV3Schema (lib/crd_to_jsonschema.py). A kind with neither schema fails: nothing passes
unchecked. Usage: validate_manifests.py K8S_VERSION SCHEMA_DIR FILE...
Prints one line per file; exits 1 if any document is invalid.
"""
import json
import os
import sys

import jsonschema
import kubernetes_validate
import yaml

CRD_GROUPS = ("core.spinkube.dev/", "networking.istio.io/", "security.istio.io/", "gateway.networking.k8s.io/",
              "monitoring.coreos.com/")


def crd_schema(schema_dir, doc):
    group, _, version = doc["apiVersion"].partition("/")
    path = os.path.join(schema_dir, f"{doc['kind'].lower()}-{group}-{version}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def validate_doc(version, schema_dir, doc):
    """Returns a list of error strings for one document."""
    if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
        return ["not a Kubernetes object (apiVersion/kind missing)"]
    if doc["apiVersion"].startswith(CRD_GROUPS):
        schema = crd_schema(schema_dir, doc)
        if schema is None:
            return [f"no schema for {doc['apiVersion']} {doc['kind']} in {schema_dir}"]
        validator = jsonschema.Draft7Validator(schema)
        return [
            f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message[:300]}"
            for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
        ]
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as e:
        path = "/".join(str(p) for p in e.path)
        return [f"{path or '<root>'}: {e.message[:300]}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"no Kubernetes {version} schema for {doc['apiVersion']} {doc['kind']}"]
    return []


def main(argv):
    version, schema_dir, files = argv[1], argv[2], argv[3:]
    bad = 0
    for path in files:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        errors = []
        for doc in docs:
            name = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}" if isinstance(doc, dict) else "?"
            errors += [f"  {name}: {err}" for err in validate_doc(version, schema_dir, doc)]
        if errors:
            bad += 1
            print(f"INVALID {path} ({len(docs)} objects)")
            print("\n".join(errors))
        else:
            print(f"valid   {path} ({len(docs)} objects)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
