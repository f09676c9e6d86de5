#!/usr/bin/env python3
"""Every pin in the delivery is filled in: no empty or placeholder version, commit, checksum or
digest, and no "pin before first run" step left to the operator. Usage: pins.py REPO_ROOT

- ansible/group_vars/all/versions.yml: every value non-empty; `*_commit` a full git commit id;
- .circleci/config.yml: no parameter defaults to empty; `*-commit` parameters are full commit
  ids, `*-sha256` ones 64 hex digits;
- requirement locks CI installs from carry a hash for every package (pip --require-hashes);
- no file of the delivery or its docs still asks to "pin before first run".
"""
import os
import re
import sys

import yaml

HEX40 = re.compile(r"^[0-9a-f]{40}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
PLACEHOLDER = re.compile(r"(?i)^(|todo|tbd|changeme|placeholder|x+|0+)$")
DELIVERY = [".circleci", "ansible", "terraform", "runtime-k8s", "docs/deploy.md"]


def leaves(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, f"{path}[{i}]")
    else:
        yield path, value


def main(root):
    problems = []
    versions = yaml.safe_load(open(os.path.join(root, "ansible/group_vars/all/versions.yml")))
    for path, value in leaves(versions):
        text = "" if value is None else str(value)
        if PLACEHOLDER.match(text.strip()):
            problems.append(f"versions.yml: {path} is empty or a placeholder ({text!r})")
        elif path.endswith("_commit") and not HEX40.match(text):
            problems.append(f"versions.yml: {path} is not a full git commit id")

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

    for p in problems:
        print(f"  {p}")
    print("pins: " + ("ok" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
