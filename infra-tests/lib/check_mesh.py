#!/usr/bin/env python3
"""The Istio ambient design of the built manifests. Usage: check_mesh.py BUILD_DIR

Facts behind the rules (Istio 1.30.3, runtime-k8s/README.md "Service mesh"):
- the namespace `shop` is labelled istio.io/dataplane-mode=ambient, and nothing asks for a
  sidecar (istio-injection, sidecar.istio.io/* labels or annotations, kind Sidecar);
- PeerAuthentication STRICT, nothing weaker;
- AuthorizationPolicies without targetRefs in an ambient namespace are enforced by ztunnel,
  which drops ALLOW rules with HTTP attributes and turns DENY rules with them into plain L4
  denies (pilot/pkg/serviceregistry/ambient/authorization.go): so none may carry any;
- all-in-one: the public path rules are on the ingress gateway (selector istio=ingressgateway,
  DENY of /admin/* and /api/* except /api/catalog/*);
- split: a Gateway of class istio-waypoint, every SpinApp (hence its Service, deploy.sh) uses it,
  the frontend also for ingress traffic, L7 policies attach to it or to the services, and
  ztunnel admits the waypoint's ServiceAccount on every service behind it;
- split: the waypoint has an HPA (minReplicas >= 2) of its Deployment and a PDB selecting its
  pods; its parametersRef ConfigMap (if any) neither sets replicas nor renders another HPA/PDB;
- NetworkPolicies: meshed pods are reached on HBONE port 15008, kubelet probes of meshed pods come
  from 169.254.7.127 (istio-cni's SNAT) on the app port, which is open to nothing else.
Prints the problems; exits 1 if there are any.
"""
import ipaddress
import os
import sys

import yaml

from report import finish

HBONE = 15008
PROBE_SOURCE = ipaddress.ip_address("169.254.7.127")
APP_PORT = 80  # spin-operator's DefaultHTTPPort (container port http-app)
INGRESS_SA = "cluster.local/ns/istio-ingress/sa/istio-ingressgateway"
L7_OPERATION = ("hosts", "notHosts", "methods", "notMethods", "paths", "notPaths")
L7_SOURCE = ("requestPrincipals", "notRequestPrincipals", "remoteIpBlocks", "notRemoteIpBlocks")
L4_WHEN = {"source.ip", "source.namespace", "source.principal", "destination.ip", "destination.port"}


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if isinstance(d, dict)]


def kind(d, k, group=None):
    return d.get("kind") == k and (group is None or d.get("apiVersion", "").startswith(group + "/"))


def sidecar_keys(node, path=""):
    """Keys anywhere in an object that ask Istio for sidecar injection."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(k, str) and (k.startswith("sidecar.istio.io/") or k == "istio-injection"):
                out.append(f"{path}/{k}")
            out += sidecar_keys(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += sidecar_keys(v, f"{path}/{i}")
    return out


def l7_fields(policy):
    spec = policy.get("spec") or {}
    found = []
    for rule in spec.get("rules") or []:
        for to in rule.get("to") or []:
            found += [f for f in L7_OPERATION if (to.get("operation") or {}).get(f)]
        for frm in rule.get("from") or []:
            found += [f for f in L7_SOURCE if (frm.get("source") or {}).get(f)]
        found += [w["key"] for w in rule.get("when") or [] if w.get("key") not in L4_WHEN]
    return sorted(set(found))


def selects(selector, labels):
    """A Kubernetes label selector (matchLabels, matchExpressions In/NotIn/Exists) vs labels."""
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        op, k, vals = e["operator"], e["key"], e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and labels.get(k) in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def ports_of(rule):
    return {p.get("port") for p in rule.get("ports") or []}


def ingress_rules(netpols, labels):
    return [r for n in netpols if "Ingress" in n["spec"].get("policyTypes", ["Ingress"])
            and selects(n["spec"].get("podSelector") or {}, labels) for r in n["spec"].get("ingress") or []]


def egress_rules(netpols, labels):
    return [r for n in netpols if "Egress" in (n["spec"].get("policyTypes") or [])
            and selects(n["spec"].get("podSelector") or {}, labels) for r in n["spec"].get("egress") or []]


def from_probe_source(rule):
    for peer in rule.get("from") or []:
        block = peer.get("ipBlock")
        if block and PROBE_SOURCE in ipaddress.ip_network(block["cidr"]) and not any(
                PROBE_SOURCE in ipaddress.ip_network(x) for x in block.get("except") or []):
            return True
    return False


def spinapp_pod_labels(app):
    labels = dict(app["spec"].get("podLabels") or {})
    labels["core.spinkube.dev/app-name"] = app["metadata"]["name"]
    return labels


def check_netpols(where, docs, errors):
    netpols = [d for d in docs if kind(d, "NetworkPolicy")]
    if not netpols:
        return
    for app in (d for d in docs if kind(d, "SpinApp")):
        name = app["metadata"]["name"]
        rules = ingress_rules(netpols, spinapp_pod_labels(app))
        if not any(HBONE in ports_of(r) and not from_probe_source(r) for r in rules):
            errors.append(f"{where}: SpinApp {name}: no NetworkPolicy admits HBONE (TCP {HBONE}) from its callers")
        if not any(APP_PORT in ports_of(r) and from_probe_source(r) for r in rules):
            errors.append(f"{where}: SpinApp {name}: no NetworkPolicy admits kubelet probes from {PROBE_SOURCE} "
                          f"on port {APP_PORT} (istio-cni SNATs them in ambient mode)")
        for r in rules:
            if APP_PORT in ports_of(r) and not from_probe_source(r):
                errors.append(f"{where}: SpinApp {name}: port {APP_PORT} open to {r.get('from')}: meshed callers "
                              f"arrive on {HBONE}; only probes need the app port")
    for job in (d for d in docs if kind(d, "Job")):
        labels = {"batch.kubernetes.io/job-name": job["metadata"]["name"]}
        if not any(HBONE in ports_of(r) for r in egress_rules(netpols, labels)):
            errors.append(f"{where}: Job {job['metadata']['name']}: no egress to HBONE (TCP {HBONE})")
    for gw in (d for d in docs if kind(d, "Gateway", "gateway.networking.k8s.io")):
        labels = {"gateway.networking.k8s.io/gateway-name": gw["metadata"]["name"],
                  "gateway.networking.k8s.io/gateway-class-name": gw["spec"].get("gatewayClassName")}
        if not any(HBONE in ports_of(r) for r in ingress_rules(netpols, labels)):
            errors.append(f"{where}: waypoint {gw['metadata']['name']}: no NetworkPolicy admits HBONE (TCP {HBONE})")
        if not any(HBONE in ports_of(r) for r in egress_rules(netpols, labels)):
            errors.append(f"{where}: waypoint {gw['metadata']['name']}: no egress to HBONE (TCP {HBONE})")
        if not any(15012 in ports_of(r) for r in egress_rules(netpols, labels)):
            errors.append(f"{where}: waypoint {gw['metadata']['name']}: no egress to istiod (TCP 15012)")


def check_waypoint(where, docs, errors):
    waypoints = {d["metadata"]["name"] for d in docs if kind(d, "Gateway", "gateway.networking.k8s.io")
                 and d["spec"].get("gatewayClassName") == "istio-waypoint"}
    apps = [d for d in docs if kind(d, "SpinApp")]
    if not waypoints:
        errors.append(f"{where}: split topology without a Gateway of class istio-waypoint: its L7 rules need one")
        return
    services = {a["metadata"]["name"] for a in apps}
    ingress_hosts = {r["destination"]["host"].split(".")[0] for vs in docs if kind(vs, "VirtualService")
                     and vs["spec"].get("gateways") for h in vs["spec"].get("http") or [] for r in h.get("route") or []}
    for app in apps:
        name, labels = app["metadata"]["name"], app["metadata"].get("labels") or {}
        if labels.get("istio.io/use-waypoint") not in waypoints:
            errors.append(f"{where}: SpinApp {name}: no istio.io/use-waypoint label naming a waypoint "
                          f"({sorted(waypoints)}): its Service would bypass the L7 rules")
        if name in ingress_hosts and labels.get("istio.io/ingress-use-waypoint") != "true":
            errors.append(f"{where}: SpinApp {name} is behind the ingress gateway without "
                          f"istio.io/ingress-use-waypoint: public traffic would skip its path rules")
    policies = [d for d in docs if kind(d, "AuthorizationPolicy")]
    for p in policies:
        for ref in p["spec"].get("targetRefs") or []:
            ok = (ref.get("kind") == "Service" and ref.get("name") in services) or (
                ref.get("kind") == "Gateway" and ref.get("name") in waypoints)
            if not ok:
                errors.append(f"{where}: AuthorizationPolicy/{p['metadata']['name']}: targetRef {ref} is neither a "
                              f"waypoint nor a service behind one")
    # ztunnel at the destination sees the waypoint's identity: it must be admitted on every service.
    for wp in waypoints:
        principal = f"cluster.local/ns/shop/sa/{wp}"
        for app in apps:
            pod = spinapp_pod_labels(app)
            if not any(not p["spec"].get("targetRefs") and p["spec"].get("action", "ALLOW") == "ALLOW"
                       and selects(p["spec"].get("selector") or {}, pod) and p["spec"].get("selector")
                       and any(principal in (f.get("source") or {}).get("principals", [])
                               for r in p["spec"].get("rules") or [] for f in r.get("from") or [])
                       for p in policies):
                errors.append(f"{where}: SpinApp {app['metadata']['name']}: no L4 policy admits the waypoint "
                              f"({principal}): ztunnel would refuse every call")
    check_waypoint_availability(where, docs, waypoints, errors)


def check_waypoint_availability(where, docs, waypoints, errors):
    """Every split call crosses the waypoint: it must outlive a node and a drain. istiod names the
    Deployment after the Gateway (class istio-waypoint: no suffix), labels its pods
    gateway.networking.k8s.io/gateway-name=<gateway>, and sets no spec.replicas, so an HPA owns
    them; a parametersRef ConfigMap overlay must not set replicas nor render a second HPA/PDB
    (manifests/charts/istio-control/istio-discovery/files/waypoint.yaml,
    pilot/pkg/config/kube/gatewaycommon/deploymentcontroller.go, Istio 1.30.3)."""
    hpas = [d for d in docs if kind(d, "HorizontalPodAutoscaler")]
    pdbs = [d for d in docs if kind(d, "PodDisruptionBudget")]
    gateways = {d["metadata"]["name"]: d for d in docs if kind(d, "Gateway", "gateway.networking.k8s.io")}
    for wp in sorted(waypoints):
        pods = {"gateway.networking.k8s.io/gateway-name": wp,
                "gateway.networking.k8s.io/gateway-class-name": "istio-waypoint"}
        mine = [h for h in hpas if (h["spec"].get("scaleTargetRef") or {}).get("kind") == "Deployment"
                and h["spec"]["scaleTargetRef"].get("name") == wp]
        if not any((h["spec"].get("minReplicas") or 1) >= 2 for h in mine):
            errors.append(f"{where}: waypoint {wp}: no HorizontalPodAutoscaler of Deployment/{wp} with "
                          f"minReplicas >= 2: one node lost takes every split call with it")
        if not any(p["spec"].get("minAvailable") is not None or p["spec"].get("maxUnavailable") is not None
                   for p in pdbs if p["spec"].get("selector") and selects(p["spec"]["selector"], pods)):
            errors.append(f"{where}: waypoint {wp}: no PodDisruptionBudget selects its pods "
                          f"(gateway.networking.k8s.io/gateway-name={wp}): a drain may evict them all")
        ref = ((gateways[wp]["spec"].get("infrastructure") or {}).get("parametersRef") or {})
        if not ref:
            continue
        cms = [d for d in docs if kind(d, "ConfigMap") and d["metadata"]["name"] == ref.get("name")]
        if ref.get("kind") != "ConfigMap" or ref.get("group") or not cms:
            errors.append(f"{where}: waypoint {wp}: parametersRef {ref} names no ConfigMap of this build: "
                          f"istiod would not render the waypoint")
            continue
        data = cms[0].get("data") or {}
        for key in ("horizontalPodAutoscaler", "podDisruptionBudget"):
            if key in data:
                errors.append(f"{where}: waypoint {wp}: ConfigMap {ref['name']} has {key}: istiod would "
                              f"render a second owner of the HPA/PDB named {wp}")
        overlay = yaml.safe_load(data.get("deployment") or "{}") or {}
        if "replicas" in (overlay.get("spec") or {}):
            errors.append(f"{where}: waypoint {wp}: ConfigMap {ref['name']} sets spec.replicas: istiod "
                          f"would fight the HPA over it")


def check_ingress_gateway(where, docs, errors):
    """The public path rules on the ingress gateway (the all-in-one topology's only L7 proxy)."""
    ok = False
    for p in docs:
        spec = p.get("spec") or {}
        if not kind(p, "AuthorizationPolicy") or (spec.get("selector") or {}).get("matchLabels") != {
                "istio": "ingressgateway"} or spec.get("action") != "DENY":
            continue
        ops = [to.get("operation") or {} for r in spec.get("rules") or [] for to in r.get("to") or []]
        if any({"/admin/*", "/api/*"} <= set(o.get("paths", [])) and o.get("notPaths") == ["/api/catalog/*"]
               for o in ops):
            ok = True
    if not ok:
        errors.append(f"{where}: no DENY policy on the ingress gateway for /admin/* and /api/* (except "
                      f"/api/catalog/*): the public path rules of all-in-one would be gone")


def main(build):
    errors = []
    files = {n: load(os.path.join(build, n)) for n in sorted(os.listdir(build)) if n.endswith(".yaml")}
    ambient = set()
    for name in ("platform.yaml", "platform-rds-ca.yaml"):
        docs = files.get(name)
        if docs is None:
            errors.append(f"{name}: not built")
            continue
        ns = [d for d in docs if kind(d, "Namespace") and d["metadata"]["name"] == "shop"]
        labels = ns[0]["metadata"].get("labels") or {} if ns else {}
        if labels.get("istio.io/dataplane-mode") != "ambient":
            errors.append(f"{name}: namespace shop is not labelled istio.io/dataplane-mode=ambient")
        else:
            ambient.add("shop")
        check_ingress_gateway(name, docs, errors)
    for name, docs in files.items():
        for d in docs:
            where = f"{name}: {d.get('kind')}/{(d.get('metadata') or {}).get('name')}"
            if kind(d, "Sidecar", "networking.istio.io"):
                errors.append(f"{where}: a Sidecar resource (ambient mode has no sidecars)")
            errors += [f"{where}: asks for sidecar injection ({k})" for k in sidecar_keys(d)]
            if kind(d, "PeerAuthentication"):
                modes = [(d["spec"].get("mtls") or {}).get("mode")]
                modes += [(v or {}).get("mode") for v in (d["spec"].get("portLevelMtls") or {}).values()]
                if any(m != "STRICT" for m in modes):
                    errors.append(f"{where}: mTLS mode {modes}, not STRICT")
            if kind(d, "AuthorizationPolicy"):
                ns = d["metadata"].get("namespace", "shop")
                spec = d.get("spec") or {}
                if ns in ambient | {"shop"} and not spec.get("targetRefs") and not spec.get("targetRef"):
                    fields = l7_fields(d)
                    if fields:
                        errors.append(f"{where}: enforced by ztunnel (no targetRefs) but has L7 fields {fields}: "
                                      f"ztunnel drops such ALLOW rules and widens such DENY rules")
        if name.startswith("overlay-"):
            if not any(kind(d, "PeerAuthentication") and d["spec"].get("mtls", {}).get("mode") == "STRICT"
                       and not d["spec"].get("selector") for d in docs):
                errors.append(f"{name}: no namespace-wide PeerAuthentication STRICT")
            apps = [d for d in docs if kind(d, "SpinApp")]
            if any(a["spec"].get("components") for a in apps):
                check_waypoint(name, docs, errors)
        check_netpols(name, docs + [d for n, ds in files.items() if n == name.replace("overlay-", "migrate-")
                                    for d in ds], errors)
    return finish("mesh", errors)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
