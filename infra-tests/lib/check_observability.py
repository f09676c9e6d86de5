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
  after istio and metrics_server;
- alerts reach someone (docs/observability.md, "Where alerts go"): the role stops before
  installing anything when no receiver URL is set and the type is not an explicit `none`; the URLs
  come from Vault or the environment (group_vars/all/secrets.yml), go into a Secret from stdin
  under no_log, before the chart, and Alertmanager mounts that Secret and reads them from files
  (never in Helm values); the Alertmanager configuration (templates/alertmanager.yaml.j2, rendered
  here for each receiver type with the role's defaults) routes every alert of the PrometheusRules
  by severity (critical -> shop-critical, warning -> shop-warning, both with a notifier unless
  the type is none; Watchdog and info to nothing), groups by alertname and service, and inhibits a
  service's shop warnings while a critical about the same service fires (and nothing else: not
  across services, not a critical);
- storage (docs/observability.md, "What is kept, where, how long"): Prometheus, Alertmanager and
  Tempo keep their data on PersistentVolumeClaims of the cluster's StorageClass (roles/storage
  storage_class_name), with a retention each; Prometheus' size limit stays below its volume, and
  Tempo's blocks and WAL are on its volume.
Prints the problems; exits 1 if there are any.
"""
import json
import os
import re
import sys

import jinja2
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


# --- Alertmanager and storage ---------------------------------------------------------------
RECEIVER_TYPES = ("slack", "webhook", "none")
# The notifiers the role may configure, and the field of each that names the URL's file.
NOTIFIER_FILE_FIELDS = {"slack_configs": "api_url_file", "webhook_configs": "url_file"}
AM_SECRETS_DIR = "/etc/alertmanager/secrets"  # prometheus-operator v0.93 pkg/alertmanager/statefulset.go secretsDir
AM_TEMPLATES_DIR = "/etc/alertmanager/config"  # kube-prometheus-stack 88.5.3: templateFiles go to the config Secret
# prometheus-operator v0.93 pkg/apis/monitoring/v1/types.go: Duration, GoDuration, ByteSize.
PROM_DURATION = re.compile(r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$")
GO_DURATION = re.compile(r"^(0|(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$")
BYTE_SIZE = re.compile(r"^(0|([0-9]*[.])?[0-9]+((K|M|G|T|E|P)i?)?B)$")
QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|(\S*))\s*$')


def resolve(value, defaults):
    """A value of the role's tasks with `{{ var }}` references to its defaults replaced."""
    if isinstance(value, str):
        m = re.fullmatch(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}", value.strip())
        if m and m.group(1) in defaults:
            return resolve(defaults[m.group(1)], defaults)
    return value


def quantity_bytes(q):
    m = QUANTITY.match(str(q))
    if not m:
        return None
    mult = {None: 1, "k": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4, "P": 1000**5, "E": 1000**6,
            "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "Pi": 1024**5, "Ei": 1024**6}
    return float(m.group(1)) * mult[m.group(2)]


def byte_size_bytes(b):
    """prometheus-operator ByteSize (and Prometheus' retention size): powers of 2, 1KB = 1KiB."""
    m = re.fullmatch(r"([0-9]*\.?[0-9]+)(?:([KMGTPE])i?)?B", str(b))
    if not m:
        return None
    return float(m.group(1)) * 1024 ** (" KMGTPE".index(m.group(2) or " "))


def parse_matcher(text):
    m = MATCHER.match(str(text))
    if not m:
        return None
    value = m.group(3) if m.group(3) is not None else m.group(4)
    return m.group(1), m.group(2), re.sub(r"\\(.)", r"\1", value)


def matches(matchers, labels):
    for name, op, value in matchers:
        got = labels.get(name, "")
        if op == "=" and got != value or op == "!=" and got == value:
            return False
        if op == "=~" and not re.fullmatch(value, got) or op == "!~" and re.fullmatch(value, got):
            return False
    return True


def route_matchers(route, where, errors):
    out = []
    for key in ("match", "match_re"):
        if key in route:
            errors.append(f"{where}: uses deprecated {key}; use matchers")
    for text in route.get("matchers") or []:
        m = parse_matcher(text)
        if m is None:
            errors.append(f"{where}: matcher {text!r} does not parse")
        else:
            out.append(m)
    return out


def route_alert(route, labels, errors, where="route", inherited=None):
    """The receiver Alertmanager picks for an alert: the deepest matching route (the first
    matching sibling wins; `continue` is refused), a route without receiver inheriting its parent's."""
    receiver = route.get("receiver") or inherited
    for i, child in enumerate(route.get("routes") or []):
        if child.get("continue"):
            errors.append(f"{where}.routes[{i}]: continue is not supported by this check")
        if matches(route_matchers(child, f"{where}.routes[{i}]", errors), labels):
            return route_alert(child, labels, errors, f"{where}.routes[{i}]", receiver)
    return receiver


def inhibited(rules, source, target, errors):
    for i, r in enumerate(rules):
        src = route_matchers({"matchers": r.get("source_matchers")}, f"inhibit_rules[{i}]", errors)
        tgt = route_matchers({"matchers": r.get("target_matchers")}, f"inhibit_rules[{i}]", errors)
        if matches(src, source) and matches(tgt, target) and \
                all(source.get(k, "") == target.get(k, "") for k in r.get("equal") or []):
            return True
    return False


def render_alertmanager(role, defaults, receiver_type):
    env = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined,
                             loader=jinja2.FileSystemLoader(os.path.join(role, "templates")))
    ctx = dict(defaults, observability_alert_receiver_type=receiver_type)
    return yaml.safe_load(env.get_template("alertmanager.yaml.j2").render(ctx)) or {}


def alert_labels(obs):
    """Every alert of the PrometheusRules with the labels it fires with (a placeholder value for
    each label its expression aggregates by, such as service)."""
    out = []
    for d in obs:
        if d.get("kind") != "PrometheusRule":
            continue
        for g in (d.get("spec") or {}).get("groups") or []:
            for r in g.get("rules") or []:
                if "alert" not in r:
                    continue
                labels = {"alertname": r["alert"], **{k: str(v) for k, v in (r.get("labels") or {}).items()}}
                by = re.findall(r"\bby\s*\(([^)]*)\)", str(r.get("expr", "")))
                for group in by[:1]:
                    for label in (w.strip() for w in group.split(",")):
                        if label and label != "le":
                            labels.setdefault(label, f"some-{label}")
                out.append(labels)
    return out


def check_alerting(root, role, tasks, defaults, obs, errors):
    kps = helm_task(tasks, "kube-prometheus-stack")
    values = (kps or {}).get("values") or {}
    am = values.get("alertmanager") or {}
    spec = am.get("alertmanagerSpec") or {}
    secret = defaults.get("observability_alert_secret")
    if not secret:
        errors.append("role observability: defaults name no observability_alert_secret")
        return
    if defaults.get("observability_alert_receiver_type") not in RECEIVER_TYPES:
        errors.append(f"role observability: observability_alert_receiver_type is not one of {RECEIVER_TYPES}")
    if "alertmanager.yaml.j2" not in str(am.get("config")):
        errors.append("role observability: alertmanager.config is not templates/alertmanager.yaml.j2")
    if spec.get("useExistingSecret") or spec.get("configSecret"):
        errors.append("role observability: alertmanagerSpec replaces the chart's configuration Secret")
    mounted = [resolve(s, defaults) for s in spec.get("secrets") or []]
    if secret not in mounted:
        errors.append(f"role observability: alertmanagerSpec.secrets does not mount {secret}, where the receivers read their URLs")

    # The Secret: from stdin, no_log, after the assertion, before the chart.
    def index(pred):
        return next((i for i, t in enumerate(tasks) if pred(t)), None)
    i_assert = index(lambda t: "observability_alert_receiver_url" in str((t.get("ansible.builtin.assert") or {}).get("that")))
    i_secret = index(lambda t: ((t.get("vars") or {}).get("observability_alert_secret_manifest") or {}).get("kind") == "Secret")
    i_kps = index(lambda t: (t.get("kubernetes.core.helm") or {}).get("chart_ref") == "kube-prometheus-stack")
    i_first_install = index(lambda t: "kubernetes.core.helm" in t or "apply" in str(t.get("ansible.builtin.command")))
    keys = set()
    if i_assert is None:
        errors.append("role observability: does not stop when no receiver is set (no assert on observability_alert_receiver_url)")
    else:
        a = tasks[i_assert]["ansible.builtin.assert"]
        if "none" not in str(a.get("that")) or "vault_observability_alert_receiver_url" not in str(a.get("fail_msg")):
            errors.append("role observability: the receiver assertion must allow an explicit none and name "
                          "vault_observability_alert_receiver_url in its message")
        if i_first_install is not None and i_first_install < i_assert:
            errors.append("role observability: the receiver assertion runs after something is installed")
        if tasks[i_assert].get("no_log"):
            errors.append("role observability: the receiver assertion is no_log (its message would be hidden)")
    if i_secret is None:
        errors.append(f"role observability: no task puts the receiver URLs into the Secret {secret}")
    else:
        t = tasks[i_secret]
        manifest = t["vars"]["observability_alert_secret_manifest"]
        cmd = t.get("ansible.builtin.command") or {}
        keys = set((manifest.get("stringData") or {}) | (manifest.get("data") or {}))
        if resolve(manifest["metadata"].get("name"), defaults) != secret:
            errors.append(f"role observability: the receiver Secret is not named {secret}")
        if t.get("no_log") is not True:
            errors.append("role observability: the task writing the receiver Secret is not no_log")
        if "stdin" not in cmd or "receiver_url" in str(cmd.get("cmd", "")) + str(cmd.get("argv", "")):
            errors.append("role observability: the receiver Secret must reach kubectl on stdin, not on its command line")
        if i_kps is not None and i_secret > i_kps:
            errors.append("role observability: the receiver Secret is created after kube-prometheus-stack "
                          "(Alertmanager's pod waits for the Secret it mounts)")
    # The URLs: from Vault or the environment, never a literal in the repository.
    with open(os.path.join(root, "ansible/group_vars/all/secrets.yml")) as f:
        secrets = yaml.safe_load(f) or {}
    for var in ("observability_alert_receiver_url", "observability_alert_warning_receiver_url"):
        v = str(secrets.get(var, ""))
        if not v.strip().startswith("{{ vault_" + var) or "lookup('ansible.builtin.env'" not in v:
            errors.append(f"group_vars/all/secrets.yml: {var} does not resolve from vault_{var} or the environment")
        if var in defaults:
            errors.append(f"role observability: defaults set {var} (a secret: group_vars/all/secrets.yml resolves it)")
    for dirpath, _, files in os.walk(role):
        for name in files:
            with open(os.path.join(dirpath, name), errors="replace") as f:
                if re.search(r"https://hooks\.slack\.com/services/[A-Za-z0-9]", f.read()):
                    errors.append(f"role observability: {name} contains a Slack webhook URL")

    # The templates file the chart mounts next to the configuration.
    for key, val in (am.get("templateFiles") or {}).items():
        m = re.search(r"lookup\('ansible\.builtin\.file',\s*'([^']+)'\)", str(val))
        if not key.endswith(".tmpl") or not m or not os.path.exists(os.path.join(role, "files", m.group(1))):
            errors.append(f"role observability: alertmanager.templateFiles {key} is not a .tmpl file of the role")

    alerts = alert_labels(obs)
    for rtype in RECEIVER_TYPES:
        where = f"alertmanager.yaml.j2 ({rtype})"
        try:
            cfg = render_alertmanager(role, defaults, rtype)
        except (jinja2.TemplateError, yaml.YAMLError, OSError) as e:
            errors.append(f"{where}: does not render ({e})")
            continue
        if (cfg.get("templates") or []) != [f"{AM_TEMPLATES_DIR}/*.tmpl"]:
            errors.append(f"{where}: templates is not [{AM_TEMPLATES_DIR}/*.tmpl] (where the chart puts templateFiles)")
        receivers = {}
        for r in cfg.get("receivers") or []:
            if r.get("name") in receivers:
                errors.append(f"{where}: receiver {r.get('name')} defined twice")
            receivers[r.get("name")] = r

        def notifier_keys(name):
            """The Secret keys a receiver reads its URL from (empty: sends nothing)."""
            out = []
            for field, configs in (receivers.get(name) or {}).items():
                if not field.endswith("_configs"):
                    continue
                if field not in NOTIFIER_FILE_FIELDS:
                    errors.append(f"{where}: receiver {name} uses {field}, which the role does not set up")
                    continue
                for c in configs or []:
                    path = str(c.get(NOTIFIER_FILE_FIELDS[field], ""))
                    prefix = f"{AM_SECRETS_DIR}/{secret}/"
                    if not path.startswith(prefix) or path[len(prefix):] not in keys:
                        errors.append(f"{where}: receiver {name} reads {path!r}, not a key of the Secret "
                                      f"{secret} ({sorted(keys)}) mounted under {AM_SECRETS_DIR}")
                    for k in ("api_url", "url", "routing_key", "service_key"):
                        if k in c:
                            errors.append(f"{where}: receiver {name} has {k} inline (a secret in Helm values)")
                    out.append(path.rsplit("/", 1)[-1])
            return out

        route = cfg.get("route") or {}

        def walk(r, path):
            if r.get("receiver") and r["receiver"] not in receivers:
                errors.append(f"{where}: {path} sends to undefined receiver {r['receiver']}")
            for i, c in enumerate(r.get("routes") or []):
                walk(c, f"{path}.routes[{i}]")
        walk(route, "route")
        group_by = route.get("group_by") or []
        if "..." not in group_by and not {"alertname", "service"} <= set(group_by):
            errors.append(f"{where}: route.group_by {group_by} does not group by alertname and service")
        if not alerts:
            errors.append(f"{where}: no alert rules to route")
        for labels in alerts:
            sev = labels.get("severity")
            got = route_alert(route, labels, errors)
            want_key = {"critical": "critical", "warning": "warning"}.get(sev)
            keys_got = notifier_keys(got)
            if want_key is None:
                continue
            if rtype == "none":
                if keys_got:
                    errors.append(f"{where}: {labels['alertname']} is sent although the type is none")
            elif keys_got != [want_key]:
                errors.append(f"{where}: {labels['alertname']} ({sev}) reaches receiver {got}, which sends to "
                              f"{keys_got or 'nothing'}, not the {want_key} URL")
        for name, labels in (("Watchdog", {"alertname": "Watchdog", "severity": "none"}),
                             ("an info alert", {"alertname": "KubeInfo", "severity": "info", "namespace": "shop"})):
            got = route_alert(route, labels, errors)
            if notifier_keys(got):
                errors.append(f"{where}: {name} is sent (to {got}); it fires by design or is informational")
        # Inhibition, with the shop's own alerts.
        rules = cfg.get("inhibit_rules") or []
        by_name = {a["alertname"]: a for a in alerts}
        err, lat = by_name.get("ShopHighErrorRate"), by_name.get("ShopHighLatencyP99")
        stuck, missing = by_name.get("ShopOrdersStuck"), by_name.get("ShopTelemetryMissing")
        if err and lat and rtype == "slack":
            a, b = dict(err, service="payment"), dict(lat, service="payment")
            if not rules:
                errors.append(f"{where}: no inhibit rule (a critical does not silence the matching warning)")
            elif not inhibited(rules, a, b, errors):
                errors.append(f"{where}: ShopHighErrorRate (critical) for a service does not inhibit "
                              f"ShopHighLatencyP99 (warning) for the same service")
            if inhibited(rules, a, dict(lat, service="checkout"), errors):
                errors.append(f"{where}: a critical inhibits a warning of another service")
            if inhibited(rules, a, dict(err, service="checkout"), errors):
                errors.append(f"{where}: a critical inhibits another critical")
            if stuck and missing and inhibited(rules, stuck, missing, errors):
                errors.append(f"{where}: ShopOrdersStuck inhibits ShopTelemetryMissing (nothing relates them)")
            two_level = {"alertname": "KubePersistentVolumeFillingUp", "namespace": "monitoring", "service": "kubelet"}
            if not inhibited(rules, dict(two_level, severity="critical"), dict(two_level, severity="warning"), errors):
                errors.append(f"{where}: a critical does not inhibit the warning of the same rule")


def check_storage(root, tasks, defaults, errors):
    with open(os.path.join(root, "ansible/roles/storage/defaults/main.yml")) as f:
        cluster_class = (yaml.safe_load(f) or {}).get("storage_class_name")

    def claim(where, spec_, size):
        cls = resolve(spec_.get("storageClassName"), defaults)
        if cls != cluster_class:
            errors.append(f"{where}: storageClassName {cls!r} is not the cluster's StorageClass {cluster_class!r} (roles/storage)")
        if quantity_bytes(resolve(size, defaults)) is None:
            errors.append(f"{where}: no volume size (got {resolve(size, defaults)!r})")
        return quantity_bytes(resolve(size, defaults))

    kps = (helm_task(tasks, "kube-prometheus-stack") or {}).get("values") or {}
    prom = (kps.get("prometheus") or {}).get("prometheusSpec") or {}
    vct = ((prom.get("storageSpec") or {}).get("volumeClaimTemplate") or {}).get("spec")
    if not vct:
        errors.append("Prometheus: no PersistentVolumeClaim (prometheusSpec.storageSpec.volumeClaimTemplate): "
                      "its TSDB is lost with the pod")
    else:
        size = claim("Prometheus", vct, ((vct.get("resources") or {}).get("requests") or {}).get("storage"))
        rsize = byte_size_bytes(resolve(prom.get("retentionSize"), defaults))
        if not BYTE_SIZE.match(str(resolve(prom.get("retentionSize"), defaults))) or rsize is None:
            errors.append("Prometheus: no retentionSize (ByteSize such as 24GiB): a full volume stops ingestion")
        elif size and rsize >= 0.9 * size:
            errors.append(f"Prometheus: retentionSize {resolve(prom.get('retentionSize'), defaults)} leaves under 10 % "
                          f"of its volume free")
    if not PROM_DURATION.match(str(resolve(prom.get("retention"), defaults) or "")) or not prom.get("retention"):
        errors.append("Prometheus: no retention (a duration such as 15d)")

    am = (kps.get("alertmanager") or {}).get("alertmanagerSpec") or {}
    vct = ((am.get("storage") or {}).get("volumeClaimTemplate") or {}).get("spec")
    if not vct:
        errors.append("Alertmanager: no PersistentVolumeClaim (alertmanagerSpec.storage.volumeClaimTemplate): "
                      "silences and the notification log are lost with the pod")
    else:
        claim("Alertmanager", vct, ((vct.get("resources") or {}).get("requests") or {}).get("storage"))
    if not GO_DURATION.match(str(resolve(am.get("retention"), defaults) or "")) or not am.get("retention"):
        errors.append("Alertmanager: no retention (a Go duration such as 120h)")

    tempo = (helm_task(tasks, "tempo") or {}).get("values") or {}
    pers = tempo.get("persistence") or {}
    if pers.get("enabled") is not True:
        errors.append("Tempo: persistence is not enabled: Tempo keeps traces on the container's filesystem, lost with the pod")
    else:
        claim("Tempo", pers, pers.get("size"))
    t = tempo.get("tempo") or {}
    if not GO_DURATION.match(str(resolve(t.get("retention"), defaults) or "")) or not t.get("retention"):
        errors.append("Tempo: no tempo.retention (the compactor's block_retention, a Go duration such as 72h)")
    trace = ((t.get("storage") or {}).get("trace") or {})
    if trace.get("backend", "local") != "local":
        errors.append("Tempo: the role configures local storage on the volume, not backend " + str(trace.get("backend")))
    for key, path in (("local", (trace.get("local") or {}).get("path")), ("wal", (trace.get("wal") or {}).get("path"))):
        if path is not None and not str(path).startswith("/var/tempo/"):
            errors.append(f"Tempo: storage.trace.{key}.path {path} is not under /var/tempo (the chart's volume mount)")


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

    check_alerting(root, role, tasks, defaults, obs, errors)
    check_storage(root, tasks, defaults, errors)
    errors[:] = list(dict.fromkeys(errors))  # the routing checks may find one problem per alert

    return finish("observability", errors, f"{rules} alerts; ")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
