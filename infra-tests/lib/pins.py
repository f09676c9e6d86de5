#!/usr/bin/env python3
"""Every pin in the delivery is filled in: no empty or placeholder version, commit, checksum or
digest, and no "pin before first run" step left to the operator. Usage: pins.py REPO_ROOT

- ansible/group_vars/all/versions.yml: every value non-empty; `*_commit` a full git commit id;
- .circleci/config.yml: no parameter defaults to empty; `*-commit` parameters are full commit
  ids, `*-sha256` ones 64 hex digits;
- requirement locks CI installs from carry a hash for every package (pip --require-hashes);
- no file of the delivery or its docs still asks to "pin before first run";
- versions.yml: every `*_sha256` value (also per architecture or file) is 64 hex digits, every
  `*_digest` (an image's index digest, e.g. otel_collector_image_digest) is sha256:<64 hex>;
- every Terraform root (terraform/, terraform/bootstrap/) pins each provider it or its modules
  require to one exact version, and commits a .terraform.lock.hcl with that provider at that
  version, the constraints Terraform would record, and h1:/zh: hashes;
- every image is pinned by digest: in the built manifests (second argument, the kustomize
  output; the app's placeholder excepted: deploy.sh replaces it with the pushed digest) and in
  .circleci/config.yml (except TAG_PINNED_CI_IMAGES, listed in docs/deploy.md with the reason).

Usage: pins.py REPO_ROOT [BUILT_MANIFESTS_DIR]
"""
import os
import re
import sys

import hcl2
import yaml

from report import finish

HEX40 = re.compile(r"^[0-9a-f]{40}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
IMAGE_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
PLACEHOLDER = re.compile(r"(?i)^(|todo|tbd|changeme|placeholder|x+|0+)$")
DELIVERY = [".circleci", "ansible", "terraform", "runtime-k8s", "docs/deploy.md"]
TERRAFORM_ROOTS = ["terraform", "terraform/bootstrap"]
EXACT_VERSION = re.compile(r"^=?\s*(\d+\.\d+\.\d+)$")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
APP_PLACEHOLDER = "registry.invalid/shop:set-by-ci"
# CI images for which no digest could be read from public sources for the pinned tag (or several
# were, from rebuilds, with no way to tell the current index offline): tag-pinned, and listed in
# docs/deploy.md, section 1. Anything else in CI must be by digest.
TAG_PINNED_CI_IMAGES = {
    "cimg/rust:1.95.0",
    "cimg/python:3.11.13",
    "cimg/postgres:16.4",
    "cimg/redis:7.2.4",
    "rust:1.95.0-trixie",
}


def leaves(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, f"{path}[{i}]")
    else:
        yield path, value


def one(value):
    """python-hcl2 wraps attribute values in lists: the value itself."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def tf_blocks(directory):
    """(required_providers {name: {source, version}}, local module sources) of one directory."""
    providers, modules = {}, []
    for f in sorted(os.listdir(directory)):
        if not f.endswith(".tf"):
            continue
        with open(os.path.join(directory, f)) as fh:
            doc = hcl2.load(fh)
        for tf in doc.get("terraform", []):
            for rp in tf.get("required_providers", []):
                for name, spec in rp.items():
                    spec = one(spec)
                    if isinstance(spec, dict):
                        providers.setdefault(name, []).append({k: one(v) for k, v in spec.items()})
        for mod in doc.get("module", []):
            for _, spec in mod.items():
                src = str(one(spec.get("source", "")))
                if src.startswith("./") or src.startswith("../"):
                    modules.append(os.path.normpath(os.path.join(directory, src)))
    return providers, modules


def lock_entries(path):
    """{source address: (version, constraints, [hashes])} of a .terraform.lock.hcl."""
    entries = {}
    with open(path) as fh:
        doc = hcl2.load(fh)
    for block in doc.get("provider", []):
        for addr, spec in block.items():
            hashes = spec.get("hashes", [])
            while len(hashes) == 1 and isinstance(hashes[0], list):
                hashes = hashes[0]
            entries[addr] = (str(one(spec.get("version", ""))), str(one(spec.get("constraints", ""))), hashes)
    return entries


def provider_specs(providers):
    """(registry address, spec) of each `required_providers` entry, as the lock file names them."""
    for name, specs in providers.items():
        for spec in specs:
            yield "registry.terraform.io/" + spec.get("source", f"hashicorp/{name}").lower(), spec


def declare(declared, providers):
    """Adds each provider's address, and its version constraint if it has one, to `declared`."""
    for addr, spec in provider_specs(providers):
        declared.setdefault(addr, set())
        if spec.get("version"):
            declared[addr].add(spec["version"].strip())


def check_terraform_locks(root):
    problems = []
    for rel in TERRAFORM_ROOTS:
        directory = os.path.join(root, rel)
        if not os.path.isdir(directory):
            continue
        root_providers, pending = tf_blocks(directory)
        declared = {}  # source address -> set of constraints from the root and its modules
        declare(declared, root_providers)
        exact = {}
        for addr, spec in provider_specs(root_providers):
            m = EXACT_VERSION.match(str(spec.get("version", "")).strip())
            if m:
                exact[addr] = m.group(1)
        seen = set()
        while pending:
            mod = pending.pop()
            if mod in seen or not os.path.isdir(mod):
                continue
            seen.add(mod)
            providers, more = tf_blocks(mod)
            pending.extend(more)
            declare(declared, providers)
        lock_path = os.path.join(directory, ".terraform.lock.hcl")
        if not os.path.isfile(lock_path):
            problems.append(f"{rel}: no .terraform.lock.hcl committed")
            continue
        locks = lock_entries(lock_path)
        for addr, constraints in sorted(declared.items()):
            if addr not in exact:
                problems.append(f"{rel}: {addr} is not pinned to one exact version in the root module")
                continue
            if addr not in locks:
                problems.append(f"{rel}: {addr} is required but not in .terraform.lock.hcl")
                continue
            version, lock_constraints, hashes = locks[addr]
            if version != exact[addr]:
                problems.append(f"{rel}: .terraform.lock.hcl has {addr} {version}, the root pins {exact[addr]}")
            recorded = {c.strip() for c in lock_constraints.split(",") if c.strip()}
            if recorded != constraints:
                problems.append(f"{rel}: .terraform.lock.hcl records constraints {sorted(recorded)} for {addr}, "
                                f"the configuration declares {sorted(constraints)} (init -lockfile=readonly would fail)")
            h1 = [h for h in hashes if h.startswith("h1:") and len(h) == 47]
            zh = [h for h in hashes if re.fullmatch(r"zh:[0-9a-f]{64}", h)]
            if not h1 or not zh or len(h1) + len(zh) != len(hashes):
                problems.append(f"{rel}: .terraform.lock.hcl entry of {addr} lacks h1:/zh: hashes or has malformed ones")
        for addr in sorted(set(locks) - set(declared)):
            problems.append(f"{rel}: .terraform.lock.hcl has {addr}, which nothing requires")
    return problems


def manifest_images(value):
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "image" and isinstance(v, str):
                yield v
            else:
                yield from manifest_images(v)
    elif isinstance(value, list):
        for v in value:
            yield from manifest_images(v)


def check_images(root, built):
    problems = []
    if built:
        for f in sorted(os.listdir(built)):
            if not f.endswith(".yaml"):
                continue
            for doc in yaml.safe_load_all(open(os.path.join(built, f))):
                for image in manifest_images(doc):
                    if image != APP_PLACEHOLDER and not DIGEST.search(image):
                        problems.append(f"{f}: image {image} is not pinned by digest")
    config = yaml.safe_load(open(os.path.join(root, ".circleci/config.yml")))
    for image in sorted(set(manifest_images(config))):
        if not DIGEST.search(image) and image not in TAG_PINNED_CI_IMAGES:
            problems.append(f"circleci: image {image} is not pinned by digest")
    return problems


def main(root, built=None):
    problems = []
    versions = yaml.safe_load(open(os.path.join(root, "ansible/group_vars/all/versions.yml")))
    for path, value in leaves(versions):
        text = "" if value is None else str(value)
        if PLACEHOLDER.match(text.strip()):
            problems.append(f"versions.yml: {path} is empty or a placeholder ({text!r})")
        elif path.endswith("_commit") and not HEX40.match(text):
            problems.append(f"versions.yml: {path} is not a full git commit id")
        elif any(part.endswith("_sha256") for part in path.split(".")) and not HEX64.match(text):
            problems.append(f"versions.yml: {path} is not a sha256")
        elif path.endswith("_digest") and not IMAGE_DIGEST.match(text):
            problems.append(f"versions.yml: {path} is not sha256:<64 hex>")
    problems += check_terraform_locks(root)
    problems += check_images(root, built)

    config = yaml.safe_load(open(os.path.join(root, ".circleci/config.yml")))
    for name, param in (config.get("parameters") or {}).items():
        default = str(param.get("default", ""))
        if PLACEHOLDER.match(default.strip()):
            problems.append(f"circleci: parameter {name} defaults to {default!r}")
        elif name.endswith("-commit") and not HEX40.match(default):
            problems.append(f"circleci: parameter {name} is not a full git commit id")
        elif name.endswith("-sha256") and not HEX64.match(default):
            problems.append(f"circleci: parameter {name} is not a sha256")

    circleci_dir = os.path.join(root, ".circleci")
    for dirpath, _, files in os.walk(circleci_dir):
        for f in files:
            if f.endswith(".lock"):
                path = os.path.join(dirpath, f)
                text = open(path).read()
                pins = re.findall(r"^[A-Za-z0-9_.-]+==\S+", text, re.M)
                entries = re.split(r"^(?=[A-Za-z0-9_.-]+==)", text, flags=re.M)[1:]
                unhashed = [e.split()[0] for e in entries if "--hash=sha256:" not in e]
                if not pins:
                    problems.append(f"{os.path.relpath(path, root)}: no pinned package")
                for u in unhashed:
                    problems.append(f"{os.path.relpath(path, root)}: {u} has no hash")

    for item in DELIVERY:
        base = os.path.join(root, item)
        paths = [base] if os.path.isfile(base) else [
            os.path.join(d, f) for d, _, fs in os.walk(base) for f in fs if ".terraform" not in d]
        for path in paths:
            try:
                text = open(path, encoding="utf-8").read()
            except (UnicodeDecodeError, OSError):
                continue
            if re.search(r"(?i)pin(ned)? before (the )?first run", text):
                problems.append(f"{os.path.relpath(path, root)}: still asks to pin before first run")

    return finish("pins", problems)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
