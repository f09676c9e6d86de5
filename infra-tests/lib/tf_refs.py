#!/usr/bin/env python3
"""A small stand-in for `terraform validate` (which needs provider downloads): in every module
directory, each var.X is declared, each local.X is defined, each <type>.<name> / data.<type>.<name>
reference names a resource or data source of that module, each module.M.O names a module call and
an output that module declares, each module call passes only declared variables and all
variables without defaults, and each `moved` block leaves an address that no longer exists for
one that does. Usage: tf_refs.py TERRAFORM_DIR
"""
import pathlib
import re
import sys

import hcl2

MOVED = re.compile(r"\bmoved\s*\{[^}]*\}")
REF = re.compile(r"\b(var|local|module|data)\.([A-Za-z0-9_-]+)(?:\.([A-Za-z0-9_-]+))?")
RES = re.compile(r"\b(aws_[a-z0-9_]+)\.([A-Za-z0-9_-]+)\b")


def load(dir_):
    blocks = {"variable": {}, "locals": {}, "resource": set(), "data": set(), "module": {}, "output": set(), "moved": []}
    text = ""
    for f in sorted(dir_.glob("*.tf")):
        raw = f.read_text()
        text += raw
        doc = hcl2.loads(raw)
        for v in doc.get("variable", []):
            for name, body in v.items():
                blocks["variable"][name] = body
        for l in doc.get("locals", []):
            blocks["locals"].update(l)
        for r in doc.get("resource", []):
            for typ, named in r.items():
                for name in named:
                    blocks["resource"].add((typ, name))
        for d in doc.get("data", []):
            for typ, named in d.items():
                for name in named:
                    blocks["data"].add((typ, name))
        for m in doc.get("module", []):
            blocks["module"].update(m)
        for o in doc.get("output", []):
            blocks["output"].update(o)
        blocks["moved"].extend(doc.get("moved", []))
    return blocks, text


def source(body):
    src = body["source"]
    return src[0] if isinstance(src, list) else src


def strip_comments(text):
    return "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in text.splitlines())


def unwrap(expr):
    """An address as python-hcl2 gives it (`${aws_x.y}` or plain) as `aws_x.y`."""
    expr = expr[0] if isinstance(expr, list) else expr
    return expr[2:-1] if expr.startswith("${") else expr


def declares(mods, d, address):
    """Whether `<type>.<name>` or `module.<m>.<type>.<name>` names a resource as seen from `d`."""
    parts = address.split(".")
    b = mods[d][0]
    if parts[0] == "module" and len(parts) == 4:
        call = b["module"].get(parts[1])
        return call is not None and (parts[2], parts[3]) in mods[(d / source(call)).resolve()][0]["resource"]
    return len(parts) == 2 and tuple(parts) in b["resource"]


def main(root):
    root = pathlib.Path(root).resolve()
    dirs = sorted({p.parent for p in root.rglob("*.tf") if ".terraform" not in p.parts})
    mods = {d: load(d) for d in dirs}
    errors = []
    for d, (b, text) in mods.items():
        for m in b["moved"]:
            old, new = unwrap(m["from"]), unwrap(m["to"])
            if declares(mods, d, old):
                errors.append(f"{d}: moved from {old}, which still exists")
            if not declares(mods, d, new):
                errors.append(f"{d}: moved to {new}, which is not declared")
        # `moved` blocks hold addresses, not references: checked above.
        code = MOVED.sub("", strip_comments(text))
        code = re.sub(r'"[^"\n]*\$\$\{[^}]*\}[^"\n]*"', '""', code)  # escaped IAM variables
        for kind, name, attr in REF.findall(code):
            if kind == "var" and name not in b["variable"]:
                errors.append(f"{d}: var.{name} is not declared")
            elif kind == "local" and name not in b["locals"]:
                errors.append(f"{d}: local.{name} is not defined")
            elif kind == "data" and (name, attr) not in b["data"]:
                errors.append(f"{d}: data.{name}.{attr} is not defined")
            elif kind == "module":
                if name not in b["module"]:
                    errors.append(f"{d}: module.{name} is not called")
                    continue
                src = (d / source(b["module"][name])).resolve()
                if attr and attr not in mods[src][0]["output"]:
                    errors.append(f"{d}: module.{name}.{attr}: {src.name} declares no such output")
        for typ, name in RES.findall(code):
            if (typ, name) not in b["resource"] and typ.startswith("aws_") and not re.search(
                rf'(resource|data)\s+"{typ}"\s+"{name}"', text
            ):
                if re.search(rf"data\.{typ}\.{name}", code):
                    continue
                errors.append(f"{d}: {typ}.{name} is not defined")
        for mname, body in b["module"].items():
            src = (d / source(body)).resolve()
            declared = mods[src][0]["variable"]
            passed = {k for k in body if not k.startswith("__")} - {"source", "version", "providers", "depends_on", "count", "for_each"}
            for p in sorted(passed - set(declared)):
                errors.append(f"{d}: module {mname} passes undeclared variable {p}")
            for v, vb in declared.items():
                if "default" not in vb and v not in passed:
                    errors.append(f"{d}: module {mname} misses required variable {v}")
    for e in errors:
        print(e)
    print(f"{len(dirs)} module dirs, {len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
