#!/usr/bin/env python3
"""Derive strict JSON schemas from CustomResourceDefinitions' openAPIV3Schema.

Used once, by hand, to (re)generate infra-tests/schemas/crds/*.json from the upstream CRD YAML
(see infra-tests/schemas/README.md for where each CRD came from); the validation run itself only
reads the generated JSON. Usage:

    crd_to_jsonschema.py OUT_DIR CRD.yaml[:Kind,Kind...] ...

Strictness: every object with `properties` and no `additionalProperties` /
`x-kubernetes-preserve-unknown-fields` rejects unknown fields (as the API server prunes them
silently, a typo would otherwise pass unnoticed). `x-kubernetes-int-or-string` becomes
integer|string. apiVersion and kind are pinned to the CRD's group/version and kind.
"""
import json
import sys

import yaml


def strict(node):
    if isinstance(node, list):
        return [strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("x-kubernetes-validations",):
            out["$comment"] = "CEL rules (x-kubernetes-validations) are checked by the API server only"
            continue
        out[key] = strict(value)
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    preserve = out.get("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    return out


def main(argv):
    out_dir = argv[1]
    for arg in argv[2:]:
        path, _, kinds = arg.partition(":")
        wanted = set(filter(None, kinds.split(",")))
        for doc in yaml.safe_load_all(open(path)):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            kind = spec["names"]["kind"]
            if wanted and kind not in wanted:
                continue
            for version in spec["versions"]:
                if not version.get("served", True):
                    continue
                schema = strict(version["schema"]["openAPIV3Schema"])
                schema.setdefault("properties", {})
                schema["properties"]["apiVersion"] = {"const": f"{spec['group']}/{version['name']}"}
                schema["properties"]["kind"] = {"const": kind}
                schema["properties"]["metadata"] = {"type": "object"}
                schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
                schema["additionalProperties"] = False
                schema["$schema"] = "http://json-schema.org/draft-07/schema#"
                schema["title"] = f"{kind} {spec['group']}/{version['name']} (from {doc['metadata']['name']})"
                name = f"{kind.lower()}-{spec['group']}-{version['name']}.json"
                with open(f"{out_dir}/{name}", "w") as f:
                    json.dump(schema, f, indent=1, sort_keys=True)
                    f.write("\n")
                print(name)


if __name__ == "__main__":
    main(sys.argv)
