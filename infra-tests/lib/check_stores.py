#!/usr/bin/env python3
"""The stores survive a node, and the app is not their superuser. Usage:
    check_stores.py REPO_ROOT BUILD_DIR

- terraform/modules/stores: RDS PostgreSQL Multi-AZ, automated backups kept >= 7 days (point-in-
  time restore), deletion protection, encrypted with a key, master password managed by RDS,
  not public, a parameter group with rds.force_ssl = 1; ElastiCache Redis with in-transit
  (required) and at-rest encryption, an AUTH token, automatic failover and Multi-AZ with >= 2
  nodes, snapshots kept; the root module wires it in;
- the serving apps' db_url (ansible/roles/shop) names the role shop_app, never the in-cluster
  superuser (POSTGRES_USER) nor the RDS master; only the migrator gets the owner's Secret;
  db-roles.sql gives shop_app rows only (no CREATE, no ALL, no ownership);
- the external Redis URL is rediss:// and spin.toml allows rediss://{{ redis_host }} wherever it
  allows redis://{{ redis_host }};
- every in-cluster store (StatefulSet) has a PodDisruptionBudget or a written reason for none
  (annotation shop.internal/no-pdb-reason), and every serving SpinApp has a PodDisruptionBudget.
"""
import os
import re
import sys
import tomllib

import hcl2
import yaml

from report import finish

NO_PDB = "shop.internal/no-pdb-reason"
APP_ROLE = "shop_app"


def first(block, key, default=None):
    """python-hcl2 wraps some values in lists; unwrap one level."""
    value = block.get(key, default)
    if isinstance(value, list) and len(value) == 1 and not isinstance(value[0], dict):
        return value[0]
    return value


def resources(tf, kind):
    out = {}
    for entry in tf.get("resource", []):
        for name, body in entry.get(kind, {}).items():
            out[name] = body
    return out


def resolve(value, variables):
    """A literal, or var.X resolved to its default."""
    if isinstance(value, str):
        m = re.fullmatch(r"\$\{var\.([a-z0-9_]+)\}", value)
        if m:
            return first(variables.get(m.group(1), {}), "default")
    return value


def load_tf_dir(path):
    merged = {"resource": [], "variable": {}, "module": []}
    for name in sorted(os.listdir(path)):
        if name.endswith(".tf"):
            with open(os.path.join(path, name)) as f:
                tf = hcl2.load(f)
            merged["resource"] += tf.get("resource", [])
            merged["module"] += tf.get("module", [])
            for v in tf.get("variable", []):
                merged["variable"].update(v)
    return merged


def check_terraform(root, errors):
    tf = load_tf_dir(os.path.join(root, "terraform/modules/stores"))
    variables = tf["variable"]

    dbs = resources(tf, "aws_db_instance")
    if not dbs:
        errors.append("terraform/modules/stores: no aws_db_instance")
    params = resources(tf, "aws_db_parameter_group")
    for name, db in dbs.items():
        where = f"aws_db_instance.{name}"
        if first(db, "multi_az") is not True:
            errors.append(f"{where}: not Multi-AZ (multi_az = true)")
        retention = resolve(first(db, "backup_retention_period"), variables)
        if not isinstance(retention, (int, float)) or retention < 7:
            errors.append(f"{where}: backup retention {retention!r} < 7 days (no point-in-time restore window)")
        if first(db, "deletion_protection") is not True:
            errors.append(f"{where}: no deletion protection")
        if first(db, "storage_encrypted") is not True or not first(db, "kms_key_id"):
            errors.append(f"{where}: storage not encrypted with a customer-managed key")
        if first(db, "manage_master_user_password") is not True or "password" in db:
            errors.append(f"{where}: the master password is not managed by RDS (manage_master_user_password)")
        if first(db, "publicly_accessible") is not False:
            errors.append(f"{where}: publicly_accessible must be false")
        if first(db, "skip_final_snapshot") is not False:
            errors.append(f"{where}: skip_final_snapshot must be false")
        group = str(first(db, "parameter_group_name", ""))
        m = re.fullmatch(r"\$\{aws_db_parameter_group\.([a-z0-9_]+)\.name\}", group)
        pg = params.get(m.group(1)) if m else None
        force_ssl = None
        for p in (pg or {}).get("parameter", []):
            if first(p, "name") == "rds.force_ssl":
                force_ssl = str(first(p, "value"))
        if force_ssl != "1":
            errors.append(f"{where}: its parameter group does not set rds.force_ssl = 1 (TLS not enforced)")

    groups = resources(tf, "aws_elasticache_replication_group")
    if not groups:
        errors.append("terraform/modules/stores: no aws_elasticache_replication_group")
    for name, rg in groups.items():
        where = f"aws_elasticache_replication_group.{name}"
        if first(rg, "transit_encryption_enabled") is not True or first(rg, "transit_encryption_mode") != "required":
            errors.append(f"{where}: in-transit encryption not required")
        if first(rg, "at_rest_encryption_enabled") is not True or not first(rg, "kms_key_id"):
            errors.append(f"{where}: not encrypted at rest with a customer-managed key")
        if not first(rg, "auth_token"):
            errors.append(f"{where}: no AUTH token")
        nodes = resolve(first(rg, "num_cache_clusters"), variables)
        if first(rg, "automatic_failover_enabled") is not True or first(rg, "multi_az_enabled") is not True:
            errors.append(f"{where}: no automatic failover / Multi-AZ")
        if not isinstance(nodes, (int, float)) or nodes < 2:
            errors.append(f"{where}: {nodes!r} node(s): automatic failover needs >= 2 (a replica)")
        snapshots = resolve(first(rg, "snapshot_retention_limit"), variables)
        if not isinstance(snapshots, (int, float)) or snapshots < 1:
            errors.append(f"{where}: no snapshots kept (snapshot_retention_limit)")

    main = load_tf_dir(os.path.join(root, "terraform"))
    wired = [body for m in main["module"] for name, body in m.items() if name == "stores"]
    if not wired or first(wired[0], "source") != "./modules/stores":
        errors.append("terraform/main.tf: module stores (./modules/stores) is not wired in")
    if first(main["variable"].get("managed_stores", {}), "default") is not True:
        errors.append("terraform/variables.tf: managed_stores must default to true (production stores)")
    return {first(db, "username") for db in dbs.values()}


def url_user(url):
    m = re.match(r"^postgres://([^:@/]+)[:@]", url.strip())
    return m.group(1) if m else None


def check_roles(root, build, masters, errors):
    defaults = yaml.safe_load(open(os.path.join(root, "ansible/roles/shop/defaults/main.yml")))
    superusers = set(masters)
    postgres = os.path.join(root, "runtime-k8s/components/stores-in-cluster/postgres.yaml")
    for doc in yaml.safe_load_all(open(postgres)):
        if doc and doc.get("kind") == "StatefulSet":
            for c in doc["spec"]["template"]["spec"]["containers"]:
                for env in c.get("env", []):
                    if env["name"] == "POSTGRES_USER":
                        superusers.add(env["value"])
    superusers.add("postgres")
    for key in ("shop_in_cluster_db_url", "shop_external_db_url"):
        user = url_user(str(defaults.get(key, "")))
        if user != APP_ROLE:
            errors.append(f"ansible/roles/shop/defaults: {key} connects as {user!r}, not the app role {APP_ROLE}")
        if user in superusers:
            errors.append(f"ansible/roles/shop/defaults: {key} connects as the superuser/master {user!r}")
    for key in ("shop_in_cluster_db_owner_url", "shop_external_db_owner_url"):
        user = url_user(str(defaults.get(key, "")))
        if user in superusers or user == APP_ROLE or not user:
            errors.append(f"ansible/roles/shop/defaults: {key} connects as {user!r}, not a separate owner role")
    redis = str(defaults.get("shop_external_redis_url", ""))
    if not redis.strip().startswith("rediss://"):
        errors.append("ansible/roles/shop/defaults: shop_external_redis_url is not rediss:// (ElastiCache requires TLS)")

    # The Secret the serving apps read carries only the app's URLs.
    secrets = open(os.path.join(root, "ansible/roles/shop/templates/secrets.yaml.j2")).read()
    for m in re.finditer(r"^\s*db_url: \{\{ (\w+) ", secrets, re.M):
        owner_doc = secrets.rfind("name: shop-db-owner", 0, m.start()) > secrets.rfind("name: shop-secrets", 0, m.start())
        if owner_doc != m.group(1).endswith("_owner_url"):
            errors.append(f"secrets.yaml.j2: {m.group(1)} is in the wrong Secret (shop-secrets = app, shop-db-owner = owner)")

    sql = open(os.path.join(root, "runtime-k8s/components/stores-in-cluster/db-roles.sql")).read()
    sql = re.sub(r"--[^\n]*", "", sql)
    for stmt in re.split(r";|\\gexec", sql):
        flat = " ".join(stmt.split())
        grant = re.search(rf"\bGRANT (.*?) ON .*\bTO {APP_ROLE}\b", flat)
        if grant and re.search(r"\b(ALL|CREATE|TRUNCATE|REFERENCES|TRIGGER)\b", grant.group(1)):
            errors.append(f"db-roles.sql: {APP_ROLE} gets more than rows: {flat[:100]}")
        if re.search(rf"\bOWNER TO {APP_ROLE}\b|\bGRANT shop_owner TO {APP_ROLE}\b", flat):
            errors.append(f"db-roles.sql: {APP_ROLE} owns or inherits the schema: {flat[:100]}")
        if re.search(rf"\b{APP_ROLE}\b.*\b(SUPERUSER|CREATEDB|CREATEROLE|BYPASSRLS)\b", flat) and "NO" not in flat:
            errors.append(f"db-roles.sql: {APP_ROLE} gets a role attribute: {flat[:100]}")
    if "ALTER DEFAULT PRIVILEGES FOR ROLE shop_owner" not in " ".join(sql.split()):
        errors.append("db-roles.sql: no default privileges: tables of later migrations would be unusable by shop_app")

    # In the built manifests, only the migrator reads the owner's Secret.
    for name in sorted(os.listdir(build)):
        if not name.endswith(".yaml"):
            continue
        for d in yaml.safe_load_all(open(os.path.join(build, name))):
            if not d or d.get("kind") != "SpinApp":
                continue
            for var in d["spec"].get("variables", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef", {})
                if var["name"] == "db_url":
                    want = "shop-db-owner" if d["metadata"]["name"] == "shop-migrator" else "shop-secrets"
                    if ref.get("name") != want:
                        errors.append(f"{name}: SpinApp/{d['metadata']['name']}: db_url from {ref.get('name')!r}, not {want}")


def check_spin_toml(root, errors):
    with open(os.path.join(root, "spin.toml"), "rb") as f:
        manifest = tomllib.load(f)
    for cid, comp in manifest.get("component", {}).items():
        hosts = comp.get("allowed_outbound_hosts", [])
        if "redis://{{ redis_host }}" in hosts and "rediss://{{ redis_host }}" not in hosts:
            errors.append(f"spin.toml: component {cid} allows redis:// but not rediss://{{{{ redis_host }}}} (ElastiCache TLS)")


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def check_disruption(build, errors):
    for name in sorted(os.listdir(build)):
        if not name.startswith("overlay-") or not name.endswith(".yaml"):
            continue
        docs = [d for d in yaml.safe_load_all(open(os.path.join(build, name))) if d]
        pdbs = [d["spec"].get("selector", {}) for d in docs if d["kind"] == "PodDisruptionBudget"]
        for d in docs:
            where = f"{name}: {d['kind']}/{d['metadata']['name']}"
            if d["kind"] == "StatefulSet":
                labels = d["spec"]["template"]["metadata"].get("labels", {})
                reason = (d["metadata"].get("annotations") or {}).get(NO_PDB, "")
                if not any(selects(s, labels) for s in pdbs) and len(reason.strip()) < 40:
                    errors.append(f"{where}: no PodDisruptionBudget and no reason ({NO_PDB})")
            if d["kind"] == "SpinApp":
                labels = {"core.spinkube.dev/app-name": d["metadata"]["name"]}
                if not any(selects(s, labels) for s in pdbs):
                    errors.append(f"{where}: no PodDisruptionBudget")


def main(root, build):
    errors = []
    masters = check_terraform(root, errors)
    check_roles(root, build, masters, errors)
    check_spin_toml(root, errors)
    check_disruption(build, errors)
    return finish("stores", errors)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
