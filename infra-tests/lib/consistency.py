#!/usr/bin/env python3
"""Cross-file facts that no schema can check. Usage: consistency.py REPO_ROOT BUILD_DIR

- the RuntimeClass handler is the containerd runtime key in BOTH containerd config templates
  (1.7 / version 2 and 2.x / version 3), with SystemdCgroup = true;
- every SpinApp: executor containerd-shim-spin, readiness and liveness on
  /.well-known/spin/health, resources, and its `components` exist in spin.toml;
- secrets (operator_token, internal_token, db_url, redis_url) only ever come from secretKeyRef
  (the one allowed literal is the non-secret operator_token stand-in for components that don't
  read it), and every SpinApp sets every variable spin.toml requires;
- every ServiceAccount an AuthorizationPolicy names exists in the same build;
- metrics-server is installed (else every HPA is inert) and verifies cluster-signed kubelet
  serving certificates;
- Istio merges slashes before matching paths, and the ingress gateway trusts one proxy (the ALB);
- a pod that runs as a non-root user can read the secret files it mounts: Kubernetes writes them
  owned by root, and only fsGroup makes them readable (the kubelet then gives the group read);
- the shim is the pinned upstream commit of v0.24.0, built by CI and downloaded from the
  node-binaries bucket.
"""
import os
import re
import sys
import tomllib

import yaml

from report import finish

SECRETS = {"operator_token", "internal_token", "db_url", "redis_url"}
STAND_IN = "not-used-by-this-component"
SHIM_COMMIT = "de7f584fd60ef0a83461bf332f92093b103dff35"  # containerd-shim-spin v0.24.0


def load_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def pod_spec(doc):
    """The pod spec of a workload (Pod, Job, Deployment, StatefulSet, CronJob...), if any."""
    spec = doc.get("spec") or {}
    if doc.get("kind") == "Pod":
        return spec
    if doc.get("kind") == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    return spec.get("template", {}).get("spec")


def unreadable_secrets(doc):
    """Secret volumes a non-root pod may not read: the files are owned by root, so a pod's user
    reads them through fsGroup (the kubelet chowns them to the group and adds group read,
    whatever defaultMode says) or, without it, only if the mode lets everyone read."""
    spec = pod_spec(doc)
    if not spec:
        return []
    ctx = spec.get("securityContext") or {}
    if ctx.get("runAsUser", 0) == 0 or "fsGroup" in ctx:
        return []
    out = []
    for vol in spec.get("volumes", []):
        secret = vol.get("secret")
        if secret is None:
            continue
        modes = [secret.get("defaultMode", 0o644)] + [i["mode"] for i in secret.get("items", []) if "mode" in i]
        if any(m & 0o004 == 0 for m in modes):
            out.append(f"secret volume {vol['name']} mounted as uid {ctx['runAsUser']} without fsGroup")
    return out


def main(root, build):
    errors = []
    # RuntimeClass handler <-> containerd runtime key
    rc = [d for d in load_docs(os.path.join(build, "platform.yaml")) if d["kind"] == "RuntimeClass"]
    handler = rc[0]["handler"] if rc else None
    for tpl, section in [
        ("config-v2.toml.j2", 'plugins."io.containerd.grpc.v1.cri".containerd.runtimes'),
        ("config-v3.toml.j2", 'plugins."io.containerd.cri.v1.runtime".containerd.runtimes'),
    ]:
        text = open(os.path.join(root, "ansible/roles/containerd/templates", tpl)).read()
        if f"[{section}.{handler}]" not in text:
            errors.append(f"{tpl}: no [{section}.{handler}] for RuntimeClass handler {handler!r}")
        if f'[{section}.{handler}.options]\n  SystemdCgroup = true' not in text:
            errors.append(f"{tpl}: runtime {handler!r} lacks SystemdCgroup = true")
        if 'runtime_type = "io.containerd.spin.v2"' not in text:
            errors.append(f"{tpl}: runtime_type io.containerd.spin.v2 missing")

    versions = yaml.safe_load(open(os.path.join(root, "ansible/group_vars/all/versions.yml")))
    if versions.get("containerd_shim_spin_version") != "v0.24.0":
        errors.append("containerd_shim_spin_version is not v0.24.0")
    if versions.get("containerd_shim_spin_commit") != SHIM_COMMIT:
        errors.append(f"containerd_shim_spin_commit is not {SHIM_COMMIT} (tag v0.24.0)")
    shim_defaults = open(os.path.join(root, "ansible/roles/containerd/defaults/main.yml")).read()
    if "https://{{ node_binaries_bucket }}.s3." not in shim_defaults:
        errors.append("the nodes do not download the shim from the node-binaries bucket")
    circleci = open(os.path.join(root, ".circleci/config.yml")).read()
    if "containerd_shim_spin_commit" not in circleci or "git rev-parse HEAD" not in circleci:
        errors.append("CircleCI does not build the shim from the pinned commit (job shim)")

    # HPAs need the metrics API: metrics-server installed, verifying cluster-signed kubelet certs.
    site = yaml.safe_load(open(os.path.join(root, "ansible/site.yml")))
    roles = {r for play in site if isinstance(play, dict) for r in play.get("roles", [])}
    if "metrics_server" not in roles:
        errors.append("site.yml installs no metrics-server: every HorizontalPodAutoscaler would be inert")
    kubeadm = open(os.path.join(root, "ansible/roles/kubeadm_control_plane/templates/kubeadm-config.yaml.j2")).read()
    if "serverTLSBootstrap: true" not in kubeadm:
        errors.append("kubelets do not request cluster-signed serving certificates (serverTLSBootstrap)")
    metrics = open(os.path.join(root, "ansible/roles/metrics_server/tasks/main.yml")).read()
    if "kubelet-insecure-tls" in metrics:
        errors.append("metrics-server must verify the kubelets, not skip TLS")

    # Istio: paths normalized with merged slashes before policies match; the ALB is one trusted hop.
    istio = yaml.safe_load(open(os.path.join(root, "ansible/roles/istio/tasks/main.yml")))
    values = {t["kubernetes.core.helm"]["name"]: t["kubernetes.core.helm"].get("values", {})
              for t in istio if "kubernetes.core.helm" in t}
    normalization = values.get("istiod", {}).get("meshConfig", {}).get("pathNormalization", {}).get("normalization")
    if normalization not in ("MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"):
        errors.append(f"istiod path normalization is {normalization!r}: `//api/...` would slip past notPaths")
    gateway_config = values.get("istio-ingressgateway", {}).get("podAnnotations", {}).get("proxy.istio.io/config", "")
    if '"numTrustedProxies": 1' not in gateway_config:
        errors.append("the ingress gateway does not trust the ALB's X-Forwarded-For hop (numTrustedProxies)")

    with open(os.path.join(root, "spin.toml"), "rb") as f:
        manifest = tomllib.load(f)
    components = set(manifest.get("component", {}))
    required = {n for n, v in manifest.get("variables", {}).items() if v.get("required")}

    # observability.yaml admits the SpinApps of every topology to the collector: its principals
    # must exist in some build, not in its own.
    every_sa = set()
    for name in sorted(os.listdir(build)):
        if name.endswith(".yaml") and name != "observability.yaml":
            every_sa |= {d["metadata"]["name"] for d in load_docs(os.path.join(build, name))
                         if d["kind"] == "ServiceAccount"}
    for name in sorted(os.listdir(build)):
        if not name.endswith(".yaml"):
            continue
        docs = load_docs(os.path.join(build, name))
        sas = {d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount"}
        if name == "observability.yaml":
            sas |= every_sa
        # istiod makes a waypoint's ServiceAccount, named after its Gateway (class istio-waypoint).
        sas |= {d["metadata"]["name"] for d in docs if d["kind"] == "Gateway"
                and d["apiVersion"].startswith("gateway.networking.k8s.io/")
                and d["spec"].get("gatewayClassName") == "istio-waypoint"}
        for d in docs:
            where = f"{name}: {d['kind']}/{d['metadata']['name']}"
            if d["kind"] == "SpinApp":
                spec = d["spec"]
                if spec.get("executor") != "containerd-shim-spin":
                    errors.append(f"{where}: executor is not containerd-shim-spin")
                for probe in ("readiness", "liveness"):
                    path = spec.get("checks", {}).get(probe, {}).get("httpGet", {}).get("path")
                    if path != "/.well-known/spin/health":
                        errors.append(f"{where}: {probe} probe is {path!r}")
                if not spec.get("resources", {}).get("requests") or not spec.get("resources", {}).get("limits"):
                    errors.append(f"{where}: resources requests/limits missing")
                for c in spec.get("components", []):
                    if c not in components:
                        errors.append(f"{where}: component {c!r} is not in spin.toml")
                for var in spec.get("variables", []):
                    if var["name"] in SECRETS:
                        ref = var.get("valueFrom", {}).get("secretKeyRef")
                        if not ref and not (var["name"] == "operator_token" and var.get("value") == STAND_IN):
                            errors.append(f"{where}: secret variable {var['name']} not from a secretKeyRef")
                    if var["name"] not in manifest.get("variables", {}):
                        errors.append(f"{where}: variable {var['name']} is not declared in spin.toml")
                missing = required - {var["name"] for var in spec.get("variables", [])}
                if missing:
                    errors.append(f"{where}: required variable(s) {sorted(missing)} not set")
                if spec.get("serviceAccountName") not in sas:
                    errors.append(f"{where}: ServiceAccount {spec.get('serviceAccountName')} not in this build")
            errors.extend(f"{where}: {e}" for e in unreadable_secrets(d))
            if d["kind"] == "AuthorizationPolicy":
                for rule in d["spec"].get("rules", []):
                    for src in rule.get("from", []):
                        for p in src.get("source", {}).get("principals", []):
                            m = re.fullmatch(r"cluster\.local/ns/shop/sa/(.+)", p)
                            if m and m.group(1) not in sas:
                                errors.append(f"{where}: principal {p} has no ServiceAccount in this build")
    return finish("consistency", errors)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
