#!/usr/bin/env python3
"""The shop's set of services, wherever delivery enumerates it. Usage:
    check_services.py REPO_ROOT BUILD_DIR

spin.toml is the source of truth: its components; who calls whom (a `{{ <service>_url }}` in a
component's allowed_outbound_hosts); who uses PostgreSQL (`postgres://{{ db_host }}`) and Redis
(`redis://{{ redis_host }}`). Then:
- every component's wasm is target/wasm32-wasip2/release/<component>.wasm (what CI stages);
- split (overlay-split.yaml): one SpinApp `shop-<c>` per component retaining exactly [c], with
  ServiceAccount `shop-<c>`, an HPA of its Deployment and a DestinationRule for its Service; it
  sets `<x>_url` to http://shop-<x>.shop.svc.cluster.local for exactly the services it calls
  (without it, it would dial <x>.spin.internal, which split has not); the store labels
  shop.internal/db-client and redis-client are on exactly the store users;
- split's waypoint: the shop-<c> identities admitted by ALLOW policies attached to a service's
  Service are exactly its callers, by POST on /api/ paths; callers reach the waypoint (egress
  and the waypoint's ingress on HBONE 15008); postgres-clients and redis-clients admit exactly
  the store users;
- all-in-one and external-stores: one SpinApp running every component;
- the migrator (migrate-*.yaml) retains the frontend and every component with a database (each
  has migrations, which POST /admin/migrate reaches in-process) and sets no `<x>_url`;
- scripts/lib.sh (SHOP_COMPONENTS), .circleci/config.yml (the build job's `-p` list, its step
  name's count and the staging loop) and README.md's Services table name every component, and
  nothing else.
Prints the problems; exits 1 if there are any.
"""
import os
import re
import sys
import tomllib

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import finish  # noqa: E402
from check_mesh import HBONE, egress_rules, ingress_rules, ports_of, selects, spinapp_pod_labels  # noqa: E402

SA = "cluster.local/ns/shop/sa/"
DB_LABEL, REDIS_LABEL = "shop.internal/db-client", "shop.internal/redis-client"


def load(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if isinstance(d, dict)]


def service_url(x):
    return f"http://shop-{x}.shop.svc.cluster.local"


def read_manifest(root):
    with open(os.path.join(root, "spin.toml"), "rb") as f:
        comps = tomllib.load(f).get("component", {})
    calls, db, redis = {}, set(), set()
    for c, body in comps.items():
        hosts = body.get("allowed_outbound_hosts", [])
        calls[c] = {m.group(1) for h in hosts for m in [re.fullmatch(r"\{\{ *(\w+)_url *\}\}", h)]
                    if m and m.group(1) in comps}
        if "postgres://{{ db_host }}" in hosts:
            db.add(c)
        if "redis://{{ redis_host }}" in hosts:
            redis.add(c)
    return comps, calls, db, redis


def url_vars(app, comps):
    """The <service>_url variables a SpinApp sets (not db_url/redis_url), by service."""
    return {v["name"][:-4]: v.get("value") for v in app["spec"].get("variables") or []
            if v["name"].endswith("_url") and v["name"][:-4] in comps}


def peers_select(peers, labels):
    return any("podSelector" in p and not p.get("ipBlock") and not p.get("namespaceSelector")
               and selects(p["podSelector"] or {}, labels) for p in peers or [])


def check_split(docs, comps, calls, db, redis, errors):
    where = "overlay-split.yaml"
    apps = [d for d in docs if d["kind"] == "SpinApp"]
    by_comp = {}
    for a in apps:
        for c in a["spec"].get("components") or []:
            by_comp.setdefault(c, []).append(a)
        if len(a["spec"].get("components") or []) != 1:
            errors.append(f"{where}: SpinApp {a['metadata']['name']} retains {a['spec'].get('components')}, "
                          f"not exactly one component")
    for a in apps:
        if not any(a["spec"].get("components") == [c] for c in comps):
            errors.append(f"{where}: SpinApp {a['metadata']['name']} runs no component of spin.toml")
    sas = {d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount"}
    hpas = {(d["spec"].get("scaleTargetRef") or {}).get("name") for d in docs if d["kind"] == "HorizontalPodAutoscaler"}
    drs = {d["spec"].get("host") for d in docs if d["kind"] == "DestinationRule"}
    policies = [d for d in docs if d["kind"] == "AuthorizationPolicy"]
    netpols = [d for d in docs if d["kind"] == "NetworkPolicy"]
    waypoints = [d["metadata"]["name"] for d in docs if d["kind"] == "Gateway"
                 and d["apiVersion"].startswith("gateway.networking.k8s.io/")
                 and d["spec"].get("gatewayClassName") == "istio-waypoint"]
    wp_pods = [{"gateway.networking.k8s.io/gateway-name": w,
                "gateway.networking.k8s.io/gateway-class-name": "istio-waypoint"} for w in waypoints]
    callers_of = {x: {c for c in comps if x in calls[c]} for x in comps}
    for c in sorted(comps):
        name = f"shop-{c}"
        mine = by_comp.get(c, [])
        if len(mine) != 1 or mine[0]["metadata"]["name"] != name:
            errors.append(f"{where}: component {c}: expected one SpinApp {name} retaining it, found "
                          f"{[a['metadata']['name'] for a in mine]}")
            continue
        app = mine[0]
        here = f"{where}: SpinApp {name}"
        if app["spec"].get("serviceAccountName") != name or name not in sas:
            errors.append(f"{here}: not running as its own ServiceAccount {name}")
        if name not in hpas:
            errors.append(f"{here}: no HorizontalPodAutoscaler of Deployment/{name}")
        if f"{name}.shop.svc.cluster.local" not in drs:
            errors.append(f"{here}: no DestinationRule for {name}.shop.svc.cluster.local")
        urls = url_vars(app, comps)
        for x in sorted(calls[c]):
            if urls.get(x) != service_url(x):
                errors.append(f"{here}: calls {x} (spin.toml) but does not set {x}_url to {service_url(x)} "
                              f"(got {urls.get(x)!r}): it would dial {x}.spin.internal")
        for x in sorted(set(urls) - calls[c]):
            errors.append(f"{here}: sets {x}_url, but {c} does not call {x} (spin.toml)")
        labels = app["spec"].get("podLabels") or {}
        for label, users, store in ((DB_LABEL, db, "PostgreSQL"), (REDIS_LABEL, redis, "Redis")):
            if (labels.get(label) == "true") != (c in users):
                errors.append(f"{here}: label {label} is {labels.get(label)!r}, but {c} "
                              f"{'uses' if c in users else 'does not use'} {store} (spin.toml)")
        # The waypoint's rules on this service: exactly its callers, by POST on /api/ paths.
        admitted = set()
        for p in policies:
            if p["spec"].get("action", "ALLOW") != "ALLOW" or not any(
                    r.get("kind") == "Service" and r.get("name") == name for r in p["spec"].get("targetRefs") or []):
                continue
            for rule in p["spec"].get("rules") or []:
                who = {s[len(SA) + 5:] for f in rule.get("from") or []
                       for s in (f.get("source") or {}).get("principals") or []
                       if s.startswith(SA + "shop-") and s[len(SA) + 5:] in comps}
                admitted |= who
                for to in rule.get("to") or [] if who else []:
                    op = to.get("operation") or {}
                    if op.get("methods") != ["POST"] or not op.get("paths") or not all(
                            x.startswith("/api/") for x in op["paths"]):
                        errors.append(f"{here}: AuthorizationPolicy/{p['metadata']['name']} admits {sorted(who)} "
                                      f"beyond POST /api/... ({op})")
        for x in sorted(callers_of[c] - admitted):
            errors.append(f"{here}: shop-{x} calls {c} (spin.toml) but no waypoint rule on {name} admits it")
        for x in sorted(admitted - callers_of[c]):
            errors.append(f"{here}: the waypoint admits shop-{x}, which does not call {c} (spin.toml)")
        if calls[c]:
            pod = spinapp_pod_labels(app)
            if not any(HBONE in ports_of(r) and any(peers_select(r.get("to"), w) for w in wp_pods)
                       for r in egress_rules(netpols, pod)):
                errors.append(f"{here}: calls {sorted(calls[c])} but no NetworkPolicy lets it reach the waypoint "
                              f"on {HBONE}")
            if not any(HBONE in ports_of(r) and peers_select(r.get("from"), pod)
                       for w in wp_pods for r in ingress_rules(netpols, w)):
                errors.append(f"{here}: calls {sorted(calls[c])} but the waypoint's NetworkPolicies do not admit it "
                              f"on {HBONE}")
    for store, users in (("postgres-clients", db), ("redis-clients", redis)):
        got = {s[len(SA) + 5:] for p in policies if p["metadata"]["name"] == store
               for r in p["spec"].get("rules") or [] for f in r.get("from") or []
               for s in (f.get("source") or {}).get("principals") or [] if s.startswith(SA + "shop-")}
        if got != users:
            errors.append(f"{where}: AuthorizationPolicy/{store} admits {sorted(got)}, spin.toml's users are "
                          f"{sorted(users)}")


def check_all_in_one(name, docs, comps, errors):
    apps = [d for d in docs if d["kind"] == "SpinApp"]
    if len(apps) != 1 or (apps[0]["spec"].get("components") and set(apps[0]["spec"]["components"]) != set(comps)):
        errors.append(f"{name}: expected one SpinApp running every component, found "
                      f"{[(a['metadata']['name'], a['spec'].get('components')) for a in apps]}")


def check_migrator(name, docs, comps, db, errors):
    apps = [d for d in docs if d["kind"] == "SpinApp" and d["metadata"]["name"] == "shop-migrator"]
    if len(apps) != 1:
        errors.append(f"{name}: no SpinApp shop-migrator")
        return
    want = {"frontend"} | db
    got = set(apps[0]["spec"].get("components") or comps)
    if got != want:
        errors.append(f"{name}: shop-migrator retains {sorted(got)}, not the frontend and every component "
                      f"with a database {sorted(want)}: /admin/migrate reaches them in-process")
    urls = sorted(f"{x}_url" for x in url_vars(apps[0], comps))
    if urls:
        errors.append(f"{name}: shop-migrator sets {urls}: its components chain in-process")


def words(text):
    return [w for w in re.split(r"[\s\\]+", text) if w]


def check_lists(root, comps, errors):
    want = set(comps)
    for c, body in comps.items():
        if body.get("source") != f"target/wasm32-wasip2/release/{c}.wasm":
            errors.append(f"spin.toml: component {c}: source {body.get('source')!r}, not "
                          f"target/wasm32-wasip2/release/{c}.wasm (what CI stages)")
    lib = open(os.path.join(root, "scripts/lib.sh")).read()
    m = re.search(r"^SHOP_COMPONENTS=\(([^)]*)\)", lib, re.M)
    got = set(words(m.group(1))) if m else set()
    if got != want:
        errors.append(f"scripts/lib.sh: SHOP_COMPONENTS is {sorted(got)}, spin.toml's components {sorted(want)}")

    ci = yaml.safe_load(open(os.path.join(root, ".circleci/config.yml")))
    runs = [s["run"] for s in (ci.get("jobs", {}).get("build", {}).get("steps") or [])
            if isinstance(s, dict) and isinstance(s.get("run"), dict)]
    built = [r for r in runs if "cargo build" in r.get("command", "") and "wasm32-wasip2" in r["command"]]
    got = {p for r in built for p in re.findall(r"(?:^|\s)-p\s+([\w-]+)", r["command"])}
    if got != want:
        errors.append(f".circleci/config.yml: job build compiles {sorted(got)}, spin.toml's components {sorted(want)}")
    for r in built:
        m = re.search(r"\((\d+) components\)", r.get("name", ""))
        if m and int(m.group(1)) != len(want):
            errors.append(f".circleci/config.yml: step {r['name']!r} says {m.group(1)}, spin.toml has {len(want)}")
    staged = [m for r in runs for m in re.finditer(r"for c in ([^;]*); do\s+cp \"target/wasm32-wasip2/release/\$c\.wasm\"",
                                                    r.get("command", ""))]
    got = {w for m in staged for w in words(m.group(1))}
    if got != want:
        errors.append(f".circleci/config.yml: job build stages {sorted(got)}, spin.toml's components {sorted(want)}")

    readme = open(os.path.join(root, "README.md")).read()
    section = re.search(r"^## Services\n(.*?)(?=^#)", readme, re.M | re.S)
    rows = re.findall(r"^\| *([^|]+?) *\|", section.group(1), re.M) if section else []
    got = {r for r in rows if r not in ("service",) and not set(r) <= set("-: ")}
    if got != want:
        errors.append(f"README.md: the Services table lists {sorted(got)}, spin.toml's components {sorted(want)}")


def main(root, build):
    errors = []
    comps, calls, db, redis = read_manifest(root)
    if "frontend" not in comps:
        errors.append("spin.toml: no frontend component")
    check_lists(root, comps, errors)
    split = load(os.path.join(build, "overlay-split.yaml"))
    if split is None:
        errors.append("overlay-split.yaml: not built")
    else:
        check_split(split, comps, calls, db, redis, errors)
    for o in ("all-in-one", "external-stores"):
        docs = load(os.path.join(build, f"overlay-{o}.yaml"))
        if docs is None:
            errors.append(f"overlay-{o}.yaml: not built")
        else:
            check_all_in_one(f"overlay-{o}.yaml", docs, comps, errors)
    for o in ("all-in-one", "split", "external-stores"):
        docs = load(os.path.join(build, f"migrate-{o}.yaml"))
        if docs is None:
            errors.append(f"migrate-{o}.yaml: not built")
        else:
            check_migrator(f"migrate-{o}.yaml", docs, comps, db, errors)
    return finish("services", errors, f"{len(comps)} components: ")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
