#!/usr/bin/env python3
"""The observability layer (docs/observability.md, "In the cluster"). Usage:

    check_observability.py REPO_ROOT BUILD_DIR

REPO_ROOT gives ansible/ (the role, its collector configuration, versions.yml, site.yml);
BUILD_DIR the kustomize output of infra-tests/run (platform*.yaml, overlay-*.yaml, migrate-*.yaml,
observability.yaml). Checks:
- the Grafana dashboard (ConfigMap shop-dashboard) parses, and every PromQL expression of its
  panels and of the alert rules names only metrics that exist: the ones the collector's pipeline
  defines (signal_to_metrics histograms, count sums, translated as Prometheus' remote write does)
  or the ones Spin 3.6.3 and ztunnel 1.30.3 export (UPSTREAM_METRICS, with their sources);
  labels used on the derived metrics are attributes the pipeline sets;
- the collector's pipelines are wired: logs -> the connectors -> metrics -> Prometheus, traces ->
  Tempo;
- every alert has a severity, a summary and a runbook;
- the SpinAppExecutor (platform and platform-rds-ca) sets the OTLP endpoint to the collector's
  Service as the role installs it (fullnameOverride, namespace, OTLP/HTTP port);
- every SpinApp's ServiceAccount in every overlay is admitted on that port by the collector's
  namespace, and the shop's NetworkPolicies let the Spin pods reach its HBONE port;
- the role pins chart versions and the image digest from versions.yml, and site.yml runs it
  after istio and metrics_server.
Prints the problems; exits 1 if there are any.
"""
import json
import os
import re
import sys

import yaml

from report import finish

# Metrics exported upstream, with where each is defined (read, not run).
UPSTREAM_METRICS = {
    # Spin v3.6.3: monotonic_counter!(spin.request_count, trigger_type, app_id, component_id),
    # crates/trigger-http/src/server.rs; a cumulative counter, hence `_total` in Prometheus.
    "spin_request_count_total": "spinframework/spin@v3.6.3 crates/trigger-http/src/server.rs",
    # histogram!(spin.component_memory_used{,_on_init}), crates/factors-executor/src/lib.rs
    "spin_component_memory_used_bucket": "spinframework/spin@v3.6.3 crates/factors-executor/src/lib.rs",
    "spin_component_memory_used_count": "spinframework/spin@v3.6.3 crates/factors-executor/src/lib.rs",
    "spin_component_memory_used_sum": "spinframework/spin@v3.6.3 crates/factors-executor/src/lib.rs",
    # ztunnel 1.30.3: registry prefix "istio" (src/metrics.rs), counters in src/proxy/metrics.rs
    # (prometheus-client appends _total to counters), served on :15020/metrics.
    "istio_tcp_connections_opened_total": "istio/ztunnel@1.30.3 src/proxy/metrics.rs",
    "istio_tcp_connections_closed_total": "istio/ztunnel@1.30.3 src/proxy/metrics.rs",
    "istio_tcp_received_bytes_total": "istio/ztunnel@1.30.3 src/proxy/metrics.rs",
    "istio_tcp_sent_bytes_total": "istio/ztunnel@1.30.3 src/proxy/metrics.rs",
}
ZTUNNEL_LABELS = {
    "reporter", "source_workload", "source_canonical_service", "source_canonical_revision",
    "source_workload_namespace", "source_principal", "source_app", "source_version", "source_cluster",
    "destination_service", "destination_service_namespace", "destination_service_name",
    "destination_workload", "destination_canonical_service", "destination_canonical_revision",
    "destination_workload_namespace", "destination_principal", "destination_app", "destination_version",
    "destination_cluster", "request_protocol", "response_flags", "connection_security_policy", "locality",
}
SPIN_LABELS = {"trigger_type", "app_id", "component_id", "unit"}
COMMON_LABELS = {"job", "instance", "le", "__name__"}
SEVERITIES = {"critical", "warning", "info"}
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group", "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "bool", "offset", "rate", "irate", "increase", "delta", "idelta",
    "histogram_quantile", "absent", "absent_over_time", "max_over_time", "min_over_time",
    "avg_over_time", "sum_over_time", "count_over_time", "clamp_min", "clamp_max", "abs",
    "round", "vector", "scalar", "time", "label_replace", "label_join", "sort", "sort_desc",
    "inf", "nan", "resets", "changes", "deriv", "predict_linear", "ceil", "floor", "exp", "ln",
}


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if isinstance(d, dict)]


def prom_name(name):
    """An OTel metric name as the Prometheus remote-write translation writes it."""
    return re.sub(r"[^a-zA-Z0-9_:]", "_", name)


def collector_metrics(config):
    """{prometheus series name: set of labels} that the collector's pipeline defines."""
    out = {}
    connectors = config.get("connectors") or {}
    stm = connectors.get("signal_to_metrics") or {}
    for signal in ("logs", "spans", "datapoints"):
        for m in stm.get(signal) or []:
            labels = {a["key"] for a in m.get("attributes") or []}
            base = prom_name(m["name"])
            if "histogram" in m:
                for suffix in ("_bucket", "_count", "_sum"):
                    out[base + suffix] = labels | {"le"} if suffix == "_bucket" else labels
            elif "sum" in m:
                out[base if base.endswith("_total") else base + "_total"] = labels
    count = connectors.get("count") or {}
    for signal in ("logs", "spans", "spanevents", "metrics", "datapoints"):
        for name, m in (count.get(signal) or {}).items():
            labels = {a["key"] for a in (m or {}).get("attributes") or []}
            base = prom_name(name)
            out[base if base.endswith("_total") else base + "_total"] = labels
    return out


def promql_parts(expr):
    """(metric names, label names) an expression uses (a lexical reading, enough for our rules)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    labels = set()
    for inner in re.findall(r"\{([^}]*)\}", text):
        labels |= set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", inner))
    text = re.sub(r"\{[^}]*\}", " ", text)
    for inner in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", text):
        labels |= {w.strip() for w in inner.split(",") if w.strip()}
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    names = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names, labels


def check_expr(where, expr, known, errors):
    names, labels = promql_parts(expr)
    if not names:
        errors.append(f"{where}: names no metric: {expr!r}")
    allowed = set(COMMON_LABELS)
    for n in sorted(names):
        if n not in known:
            errors.append(f"{where}: unknown metric {n} (neither defined by the collector's pipeline "
                          f"nor exported by Spin or ztunnel)")
            continue
        allowed |= known[n]
    for label in sorted(labels - allowed):
        errors.append(f"{where}: label {label} is not set on {sorted(names)}")


def helm_task(tasks, chart):
    for t in tasks:
        h = t.get("kubernetes.core.helm")
        if h and h.get("chart_ref") == chart:
            return h
    return None


def main(root, build):
    errors = []
    role = os.path.join(root, "ansible/roles/observability")
    with open(os.path.join(role, "files/collector.yaml")) as f:
        config = yaml.safe_load(f)
    with open(os.path.join(role, "tasks/main.yml")) as f:
        tasks = yaml.safe_load(f) or []
    with open(os.path.join(role, "defaults/main.yml")) as f:
        defaults = yaml.safe_load(f) or {}
    with open(os.path.join(root, "ansible/group_vars/all/versions.yml")) as f:
        versions = yaml.safe_load(f) or {}

    # --- the collector's pipelines
    pipelines = (config.get("service") or {}).get("pipelines") or {}
    logs, metrics, traces = (pipelines.get(k) or {} for k in ("logs", "metrics", "traces"))
    for conn in ("signal_to_metrics", "count"):
        if conn not in (config.get("connectors") or {}):
            errors.append(f"collector: connector {conn} is not defined")
        if conn not in (logs.get("exporters") or []):
            errors.append(f"collector: the logs pipeline does not feed {conn}")
        if conn not in (metrics.get("receivers") or []):
            errors.append(f"collector: the metrics pipeline does not receive from {conn}")
    if "prometheusremotewrite" not in (metrics.get("exporters") or []):
        errors.append("collector: the metrics pipeline does not export to Prometheus (prometheusremotewrite)")
    if "deltatocumulative" not in (metrics.get("processors") or []):
        errors.append("collector: connectors emit delta metrics, but the metrics pipeline has no deltatocumulative")
    if not any(e.startswith("otlp") for e in traces.get("exporters") or []):
        errors.append("collector: the traces pipeline exports to no OTLP trace store")
    for name in ("logs", "metrics", "traces"):
        if "otlp" not in (pipelines.get(name) or {}).get("receivers", []):
            errors.append(f"collector: the {name} pipeline does not receive OTLP")
    http = (((config.get("receivers") or {}).get("otlp") or {}).get("protocols") or {}).get("http") or {}
    port = str(http.get("endpoint", "")).rsplit(":", 1)[-1]
    if not port.isdigit():
        errors.append("collector: the OTLP receiver has no HTTP endpoint (Spin 3.6.3 speaks http/protobuf by default)")

    # --- the role: charts and image pinned from versions.yml
    otel = helm_task(tasks, "opentelemetry-collector")
    pins = {
        "opentelemetry-collector": "otel_collector_chart_version",
        "kube-prometheus-stack": "kube_prometheus_stack_chart_version",
        "tempo": "tempo_chart_version",
    }
    for chart, key in pins.items():
        h = helm_task(tasks, chart)
        if h is None:
            errors.append(f"role observability: installs no {chart} chart")
        elif h.get("chart_version") != "{{ " + key + " }}":
            errors.append(f"role observability: {chart} is not pinned to versions.yml {key}")
        if not versions.get(key):
            errors.append(f"versions.yml: {key} is missing")
    if otel:
        image = (otel.get("values") or {}).get("image") or {}
        if image.get("digest") != "{{ otel_collector_image_digest }}":
            errors.append("role observability: the collector image is not pinned by versions.yml otel_collector_image_digest")
        if "contrib" not in str(image.get("repository", "")):
            errors.append("role observability: the collector image is not the contrib distribution")
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", str(versions.get("otel_collector_image_digest", ""))):
            errors.append("versions.yml: otel_collector_image_digest is not sha256:<64 hex>")
        values = otel.get("values") or {}
        if "files/collector.yaml" not in str(values.get("alternateConfig")) and \
                "'collector.yaml'" not in str(values.get("alternateConfig")):
            errors.append("role observability: the collector does not run files/collector.yaml")
        if values.get("mode") != "deployment" or values.get("replicaCount") != 1:
            errors.append("role observability: the collector must be one Deployment replica "
                          "(its delta-to-cumulative state is per replica)")
        ns = otel.get("release_namespace", "")
        ns = defaults.get(ns.strip("{} ").strip(), ns) if ns.startswith("{{") else ns
        service = f"http://{values.get('fullnameOverride')}.{ns}.svc.cluster.local:{port}"
    else:
        service = None
    with open(os.path.join(root, "ansible/site.yml")) as f:
        plays = yaml.safe_load(f) or []
    order = [r for p in plays for r in (p.get("roles") or [])]
    if "observability" not in order:
        errors.append("site.yml: the observability role is not run")
    else:
        for before in ("istio", "metrics_server"):
            if before not in order or order.index(before) > order.index("observability"):
                errors.append(f"site.yml: observability must run after {before}")

    # --- the executor points at that Service
    for name in ("platform.yaml", "platform-rds-ca.yaml"):
        path = os.path.join(build, name)
        if not os.path.exists(path):
            errors.append(f"{name}: not built")
            continue
        for d in load_all(path):
            if d.get("kind") != "SpinAppExecutor":
                continue
            otel_cfg = ((d.get("spec") or {}).get("deploymentConfig") or {}).get("otel") or {}
            got = otel_cfg.get("exporter_otlp_endpoint")
            if service and got != service:
                errors.append(f"{name}: SpinAppExecutor {d['metadata']['name']} sends OTLP to {got!r}, "
                              f"not the collector the role installs ({service})")

    # --- mesh and network policy: every SpinApp may reach the collector
    obs_path = os.path.join(build, "observability.yaml")
    obs = load_all(obs_path) if os.path.exists(obs_path) else []
    if not obs:
        errors.append("observability.yaml: not built")
    admitted = set()
    for d in obs:
        if d.get("kind") == "AuthorizationPolicy" and (d.get("spec") or {}).get("action", "ALLOW") == "ALLOW":
            for rule in d["spec"].get("rules") or []:
                ports = {str(p) for op in rule.get("to") or [] for p in (op.get("operation") or {}).get("ports") or []}
                if port not in ports:
                    continue
                for src in rule.get("from") or []:
                    admitted |= set((src.get("source") or {}).get("principals") or [])
    for name in sorted(os.listdir(build)):
        if not (name.startswith("overlay-") or name.startswith("migrate-")) or not name.endswith(".yaml"):
            continue
        docs = load_all(os.path.join(build, name))
        for d in docs:
            if d.get("kind") == "SpinApp":
                sa = (d.get("spec") or {}).get("serviceAccountName", "default")
                ns = d["metadata"].get("namespace", "shop")
                principal = f"cluster.local/ns/{ns}/sa/{sa}"
                if principal not in admitted:
                    errors.append(f"{name}: SpinApp {d['metadata']['name']} ({principal}) is not admitted "
                                  f"to the collector's OTLP port {port}")
        egress = False
        for d in docs:
            if d.get("kind") != "NetworkPolicy":
                continue
            sel = (d["spec"].get("podSelector") or {})
            exprs = sel.get("matchExpressions") or []
            if not any(e.get("key") == "core.spinkube.dev/app-name" and e.get("operator") == "Exists" for e in exprs):
                continue
            for rule in d["spec"].get("egress") or []:
                to_telemetry = any(((t.get("namespaceSelector") or {}).get("matchLabels") or {}).get(
                    "kubernetes.io/metadata.name") == "telemetry" for t in rule.get("to") or [])
                if to_telemetry and any(p.get("port") == 15008 for p in rule.get("ports") or []):
                    egress = True
        if name.startswith("overlay-") and not egress:
            errors.append(f"{name}: no NetworkPolicy lets the Spin pods reach the collector's HBONE port 15008")

    # --- dashboard and alerts name only metrics that exist
    known = {k: SPIN_LABELS for k in UPSTREAM_METRICS if k.startswith("spin_")}
    known.update({k: ZTUNNEL_LABELS for k in UPSTREAM_METRICS if k.startswith("istio_")})
    for k in known:
        if k.endswith("_bucket"):
            known[k] = known[k] | {"le"}
    known.update(collector_metrics(config))
    dashboards = [d for d in obs if d.get("kind") == "ConfigMap"
                  and ((d.get("metadata") or {}).get("labels") or {}).get("grafana_dashboard") == "1"]
    if not dashboards:
        errors.append("observability.yaml: no ConfigMap labelled grafana_dashboard=1")
    for cm in dashboards:
        for key, text in (cm.get("data") or {}).items():
            where = f"dashboard {cm['metadata']['name']}/{key}"
            try:
                dash = json.loads(text)
            except ValueError as e:
                errors.append(f"{where}: does not parse as JSON ({e})")
                continue
            panels = list(dash.get("panels") or [])
            for p in list(panels):
                panels += p.get("panels") or []
            exprs = 0
            for p in panels:
                for t in p.get("targets") or []:
                    if "expr" in t:
                        exprs += 1
                        check_expr(f"{where} panel {p.get('title')!r}", t["expr"], known, errors)
            if not exprs:
                errors.append(f"{where}: no panel queries anything")
    rules = 0
    for d in obs:
        if d.get("kind") != "PrometheusRule":
            continue
        for group in (d.get("spec") or {}).get("groups") or []:
            for r in group.get("rules") or []:
                where = f"PrometheusRule {d['metadata']['name']} {r.get('alert') or r.get('record')}"
                check_expr(where, str(r.get("expr", "")), known, errors)
                if "alert" not in r:
                    continue
                rules += 1
                if (r.get("labels") or {}).get("severity") not in SEVERITIES:
                    errors.append(f"{where}: severity is not one of {sorted(SEVERITIES)}")
                for a in ("summary", "runbook"):
                    if not str((r.get("annotations") or {}).get(a, "")).strip():
                        errors.append(f"{where}: no {a}")
    alerts = {r.get("alert") for d in obs if d.get("kind") == "PrometheusRule"
              for g in d["spec"].get("groups") or [] for r in g.get("rules") or []}
    for want in ("ShopHighErrorRate", "ShopHighLatencyP99", "ShopOrdersStuck"):
        if want not in alerts:
            errors.append(f"observability.yaml: no alert {want}")
    if not any(d.get("kind") == "PodMonitor" and "istio-system" in
               ((d.get("spec") or {}).get("namespaceSelector") or {}).get("matchNames", [])
               and any(e.get("port") == "ztunnel-stats" for e in d["spec"].get("podMetricsEndpoints") or [])
               for d in obs):
        errors.append("observability.yaml: no PodMonitor scrapes ztunnel's port ztunnel-stats (15020) in istio-system")

    return finish("observability", errors, f"{rules} alerts; ")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
