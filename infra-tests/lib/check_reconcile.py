#!/usr/bin/env python3
"""The periodic reconciler of every overlay. Usage: check_reconcile.py BUILD_DIR [REPO_ROOT]

runtime-k8s/README.md, "Reconciling stuck orders"; runtime-k8s/jobs/reconcile:
- every overlay (overlay-*.yaml) has exactly one CronJob `shop-reconcile`, no migrate build has
  one; schedule every minute, concurrencyPolicy Forbid, a starting deadline, and its Jobs are
  bounded (activeDeadlineSeconds, backoffLimit, history limits, ttlSecondsAfterFinished);
- its pod: its own ServiceAccount `shop-reconcile` (in the build, automount off), no
  service-account token, non-root with fsGroup (reads the 0440 token), seccomp RuntimeDefault,
  read-only root filesystem, ALL capabilities dropped, no privilege escalation, resources;
- it POSTs to /admin/reconcile of that overlay's serving frontend Service (the SpinApp that
  retains the frontend component: `shop` or `shop-frontend`), with --fail-with-body and short
  --connect-timeout/--max-time;
- the operator token comes from the Secret shop-secrets (key operator_token) as a mounted file,
  read on a line of its own, refused when empty, and reaches curl only through a header file:
  never from env (no secretKeyRef, no token variable) and never in argv;
- the mesh admits its identity to the frontend: without a waypoint, an L4 (ztunnel) policy on
  the frontend's pods with the principal on port 80 and no L7 fields; behind a waypoint, an
  ALLOW attached to the frontend's Service for exactly POST /admin/reconcile, and no ztunnel
  policy admitting it around the waypoint;
- NetworkPolicies: egress from the CronJob's pods (selected by their pod-template labels: the
  Jobs' job-name label is not stable) to HBONE 15008 of the frontend's pods or of the waypoint,
  and ingress there from them;
- with REPO_ROOT: the deployer identity (ansible/roles/shop/templates/deployer.yaml.j2) may
  manage batch cronjobs.
Prints the problems; exits 1 if there are any.
"""
import os
import re
import shlex
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import finish  # noqa: E402
from check_mesh import (HBONE, egress_rules, ingress_rules, l7_fields, load, ports_of,  # noqa: E402
                        selects, spinapp_pod_labels)

NAME = "shop-reconcile"
PRINCIPAL = f"cluster.local/ns/shop/sa/{NAME}"
PATH = "/admin/reconcile"
SECRET, KEY = "shop-secrets", "operator_token"
SCHEDULE = "*/1 * * * *"
MAX_CONNECT, MAX_TIME = 10, 120  # seconds: "short" for a job that runs every minute


def kind(d, k):
    return d.get("kind") == k


def frontend_app(docs):
    """The serving SpinApp that runs the frontend component (no `components` = all of them)."""
    apps = [d for d in docs if kind(d, "SpinApp")
            and (not d["spec"].get("components") or "frontend" in d["spec"]["components"])]
    return apps[0] if len(apps) == 1 else None


def peers_select(peers, labels):
    """NetworkPolicy peers (same namespace) that select pods with these labels."""
    return any("podSelector" in p and not p.get("ipBlock") and selects(p["podSelector"] or {}, labels)
               and (not p.get("namespaceSelector") or selects(p["namespaceSelector"],
                                                              {"kubernetes.io/metadata.name": "shop"}))
               for p in peers or [])


def script_of(container):
    return "\n".join((container.get("command") or []) + (container.get("args") or []))


def curl_command(script):
    """The curl invocation of the script, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", script)
    lines = [ln for ln in joined.splitlines() if re.search(r"(^\s*|\$\(|[;&|]\s*)curl\s", ln)]
    return lines[0] if len(lines) == 1 else None


def expand(text, env):
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: env.get(m.group(1), m.group(0)), text)


def check_job(where, cj, docs, errors):
    spec = cj.get("spec") or {}
    if spec.get("schedule") != SCHEDULE:
        errors.append(f"{where}: schedule {spec.get('schedule')!r}, not {SCHEDULE!r}")
    if spec.get("concurrencyPolicy") != "Forbid":
        errors.append(f"{where}: concurrencyPolicy is {spec.get('concurrencyPolicy')!r}, not Forbid: "
                      f"slow runs would pile up")
    for field in ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        if not isinstance(spec.get(field), int):
            errors.append(f"{where}: no {field}")
    job = (spec.get("jobTemplate") or {}).get("spec") or {}
    for field in ("activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"):
        if not isinstance(job.get(field), int):
            errors.append(f"{where}: the Jobs have no {field}")
    template = job.get("template") or {}
    pod = template.get("spec") or {}
    pod_labels = (template.get("metadata") or {}).get("labels") or {}

    # identity and hardening
    sa = pod.get("serviceAccountName")
    if sa != NAME:
        errors.append(f"{where}: runs as ServiceAccount {sa!r}, not its own {NAME!r}")
    sas = [d for d in docs if kind(d, "ServiceAccount") and d["metadata"]["name"] == NAME]
    if not sas:
        errors.append(f"{where}: ServiceAccount {NAME} not in this build")
    elif sas[0].get("automountServiceAccountToken") is not False:
        errors.append(f"{where}: ServiceAccount {NAME} does not turn automountServiceAccountToken off")
    if pod.get("automountServiceAccountToken") is not False:
        errors.append(f"{where}: the pod mounts a service-account token")
    ctx = pod.get("securityContext") or {}
    if ctx.get("runAsNonRoot") is not True or not ctx.get("runAsUser"):
        errors.append(f"{where}: the pod does not run as a non-root user")
    if "fsGroup" not in ctx:
        errors.append(f"{where}: without fsGroup, uid {ctx.get('runAsUser')} cannot read the 0440 token file")
    if (ctx.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        errors.append(f"{where}: seccomp profile is not RuntimeDefault")
    containers = pod.get("containers") or []
    if len(containers) != 1 or pod.get("initContainers"):
        errors.append(f"{where}: expected one container, found {len(containers)}")
        return
    c = containers[0]
    sc = c.get("securityContext") or {}
    if sc.get("readOnlyRootFilesystem") is not True:
        errors.append(f"{where}: root filesystem not read-only")
    if sc.get("allowPrivilegeEscalation") is not False:
        errors.append(f"{where}: privilege escalation allowed")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        errors.append(f"{where}: capabilities not dropped (ALL)")
    res = c.get("resources") or {}
    if not res.get("requests") or not res.get("limits"):
        errors.append(f"{where}: resources requests/limits missing")
    if not re.search(r"@sha256:[0-9a-f]{64}$", c.get("image", "")) or not c["image"].startswith("pull-through.invalid/"):
        errors.append(f"{where}: image {c.get('image')!r} is not by digest through pull-through.invalid/")

    # the token: a mounted file from shop-secrets, into a header file
    env = c.get("env") or []
    for e in env:
        if e.get("valueFrom") or "token" in e.get("name", "").lower():
            errors.append(f"{where}: environment variable {e.get('name')!r} from {e.get('valueFrom')}: the token "
                          f"must not be in env")
    if c.get("envFrom"):
        errors.append(f"{where}: envFrom {c['envFrom']}: the token must not be in env")
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    token_dirs = []
    for m in c.get("volumeMounts") or []:
        secret = (volumes.get(m["name"]) or {}).get("secret") or {}
        if secret.get("secretName") == SECRET:
            items = {i["key"]: i["path"] for i in secret.get("items") or []}
            if secret.get("items") and KEY not in items:
                continue
            token_dirs.append(f"{m['mountPath'].rstrip('/')}/{items.get(KEY, KEY)}")
    script = script_of(c)
    token_var = None
    for path in token_dirs:
        m = re.search(r"^\s*([A-Za-z_][A-Za-z0-9_]*)=\$\(cat " + re.escape(path) + r"\)\s*$", script, re.M)
        if m:
            token_var = m.group(1)
    if not token_dirs:
        errors.append(f"{where}: does not mount the Secret {SECRET} key {KEY}")
    elif not token_var:
        errors.append(f"{where}: the token file ({token_dirs}) is not read into a variable on a line of its own")
    env_values = {e["name"]: e.get("value", "") for e in env}
    curl = curl_command(script)
    if not curl:
        errors.append(f"{where}: no single curl command in its script")
        return
    if token_var:
        if not re.search(r'\[ -n "\$\{?' + token_var + r'\}?" \] \|\| \{[^}]*exit [1-9]', script):
            errors.append(f"{where}: does not fail loudly when the token is empty")
        if re.search(r"\$\{?" + token_var + r"\b", curl):
            errors.append(f"{where}: the token is on curl's argv (visible in /proc): use a header file")
        header = re.search(r"printf [^\n]*\$\{?" + token_var + r"\}?\"?\s*>\s*(\S+)", script)
        if not header:
            errors.append(f"{where}: the token is not written to a header file")
        elif not re.search(r"authorization: Bearer ", header.group(0), re.I):
            errors.append(f"{where}: the header file is not `authorization: Bearer <token>`")
        elif not re.search(r"-H @" + re.escape(header.group(1)) + r"(\s|$)", curl):
            errors.append(f"{where}: curl does not read the header file {header.group(1)} (-H @file)")
    # the arguments after `curl`, without the end of a `$(...)` around it
    args = re.sub(r"\)(\s*(\|\||&&|;).*)?\s*$", "", re.split(r"(?:^\s*|\$\(|[;&|]\s*)curl\s", curl, maxsplit=1)[1])
    try:
        words = shlex.split(expand(args, env_values))
    except ValueError as e:
        errors.append(f"{where}: cannot parse the curl command: {e}")
        return
    if "--fail-with-body" not in words:
        errors.append(f"{where}: curl without --fail-with-body: a non-2xx answer would pass silently")
    for opt, limit in (("--connect-timeout", MAX_CONNECT), ("--max-time", MAX_TIME)):
        if opt not in words or words.index(opt) + 1 >= len(words):
            errors.append(f"{where}: curl without {opt}")
        elif float(words[words.index(opt) + 1]) > limit:
            errors.append(f"{where}: curl {opt} {words[words.index(opt) + 1]} > {limit}")
    method = words[words.index("-X") + 1] if "-X" in words else ("POST" if {"-d", "--data"} & set(words) else "GET")
    if method != "POST":
        errors.append(f"{where}: curl sends {method}, not POST")
    urls = [w for w in words if re.match(r"https?://", w)]
    app = frontend_app(docs)
    if app is None:
        errors.append(f"{where}: no single serving SpinApp with the frontend component in this overlay")
        return
    want = f"http://{app['metadata']['name']}.shop.svc.cluster.local{PATH}"
    if urls != [want]:
        errors.append(f"{where}: posts to {urls}, not the frontend's Service {want}")
    check_mesh(where, app, pod_labels, docs, errors)


def check_mesh(where, app, pod_labels, docs, errors):
    name = app["metadata"]["name"]
    front = spinapp_pod_labels(app)
    policies = [d for d in docs if kind(d, "AuthorizationPolicy") and d["spec"].get("action", "ALLOW") == "ALLOW"]

    def names_principal(rule):
        return any(PRINCIPAL in ((f.get("source") or {}).get("principals") or []) for f in rule.get("from") or [])

    l4 = [(p, r) for p in policies if not p["spec"].get("targetRefs") and p["spec"].get("selector")
          and selects(p["spec"]["selector"], front) for r in p["spec"].get("rules") or [] if names_principal(r)]
    waypoint = (app["metadata"].get("labels") or {}).get("istio.io/use-waypoint")
    netpols = [d for d in docs if kind(d, "NetworkPolicy")]
    if waypoint:
        if l4:
            errors.append(f"{where}: a ztunnel policy admits {PRINCIPAL} to {name} directly, around the "
                          f"waypoint's path rules ({[p['metadata']['name'] for p, _ in l4]})")
        l7 = [(p, r) for p in policies
              if any((ref.get("kind") == "Service" and ref.get("name") == name)
                     or (ref.get("kind") == "Gateway" and ref.get("name") == waypoint)
                     for ref in p["spec"].get("targetRefs") or [])
              for r in p["spec"].get("rules") or [] if names_principal(r)]
        if not l7:
            errors.append(f"{where}: no waypoint policy admits {PRINCIPAL} to {name}")
        for p, r in l7:
            ops = [to.get("operation") or {} for to in r.get("to") or []]
            if not ops or any(o.get("methods") != ["POST"] or o.get("paths") != [PATH]
                              or set(o) - {"methods", "paths"} for o in ops):
                errors.append(f"{where}: AuthorizationPolicy/{p['metadata']['name']} admits {PRINCIPAL} to {ops}, "
                              f"not exactly POST {PATH}")
        target = {"gateway.networking.k8s.io/gateway-name": waypoint,
                  "gateway.networking.k8s.io/gateway-class-name": "istio-waypoint"}
        what = f"the waypoint {waypoint}"
    else:
        if not any("80" in (to.get("operation") or {}).get("ports", []) for _, r in l4 for to in r.get("to") or []):
            errors.append(f"{where}: no L4 policy admits {PRINCIPAL} to {name} on port 80")
        for p, _ in l4:
            if l7_fields(p):
                errors.append(f"{where}: AuthorizationPolicy/{p['metadata']['name']} (ztunnel) has L7 fields "
                              f"{l7_fields(p)}")
        target, what = front, name
    if not any(HBONE in ports_of(r) and peers_select(r.get("to"), target) for r in egress_rules(netpols, pod_labels)):
        errors.append(f"{where}: no NetworkPolicy egress from its pods ({pod_labels}) to {what} on HBONE {HBONE}")
    if not any(HBONE in ports_of(r) and peers_select(r.get("from"), pod_labels) for r in ingress_rules(netpols, target)):
        errors.append(f"{where}: no NetworkPolicy ingress on {what} from its pods ({pod_labels}) on HBONE {HBONE}")


def check_deployer(root, errors):
    path = os.path.join(root, "ansible/roles/shop/templates/deployer.yaml.j2")
    text = re.sub(r"\{\{.*?\}\}", "x", open(path).read())
    roles = [d for d in yaml.safe_load_all(text) if isinstance(d, dict) and d.get("kind") == "Role"]
    if not any("batch" in r.get("apiGroups", []) and "cronjobs" in r.get("resources", [])
               and {"get", "create", "update", "patch", "delete"} <= set(r.get("verbs", []))
               for role in roles for r in role.get("rules") or []):
        errors.append(f"{path}: the deployer may not manage batch cronjobs (the overlays have {NAME})")


def main(build, root=None):
    errors = []
    files = {n: load(os.path.join(build, n)) for n in sorted(os.listdir(build)) if n.endswith(".yaml")}
    overlays = [n for n in files if n.startswith("overlay-")]
    if not overlays:
        errors.append(f"{build}: no overlay-*.yaml")
    for name in overlays:
        docs = files[name]
        cjs = [d for d in docs if kind(d, "CronJob") and d["metadata"]["name"] == NAME]
        if len(cjs) != 1:
            errors.append(f"{name}: {len(cjs)} CronJob(s) {NAME}, expected exactly one")
            continue
        check_job(f"{name}: CronJob/{NAME}", cjs[0], docs, errors)
    for name in (n for n in files if n.startswith("migrate-")):
        if any(kind(d, "CronJob") for d in files[name]):
            errors.append(f"{name}: a CronJob in the migration step (the overlays carry {NAME})")
    if root:
        check_deployer(root, errors)
    return finish("reconcile", errors)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
