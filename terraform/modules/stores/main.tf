# The shop's stores as managed services, in the private subnets, reachable only from the nodes:
#   RDS for PostgreSQL, Multi-AZ (synchronous standby in the other AZ, automatic failover),
#   automated backups = point-in-time restore, TLS enforced, master password kept by RDS in
#   Secrets Manager (the app never uses it: ansible/roles/shop creates least-privilege roles);
#   ElastiCache for Redis, a replication group (primary + replicas across the AZs, automatic
#   failover), TLS only, AUTH token generated here and kept in Secrets Manager, daily snapshots.
# Nothing in the cluster needs AWS credentials to use them: pods get URLs from Kubernetes Secrets.

# ---------------------------------------------------------------- encryption key
# One customer-managed key for both stores' data, backups, snapshots, Performance Insights and
# secrets. The services use it through grants their callers create (RDS, ElastiCache) or on the
# caller's behalf (Secrets Manager), so the account statement is all the policy needs.
resource "aws_kms_key" "stores" {
  description         = "${var.name} stores (RDS, ElastiCache, their secrets)"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministration"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${var.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
    ]
  })
}

resource "aws_kms_alias" "stores" {
  name          = "alias/${var.name}-stores"
  target_key_id = aws_kms_key.stores.key_id
}

# ---------------------------------------------------------------- network
resource "aws_security_group" "postgres" {
  name        = "${var.name}-postgres"
  description = "RDS PostgreSQL of the shop: 5432 from the nodes only"
  vpc_id      = var.vpc_id
  tags        = { Name = "${var.name}-postgres" }
}

resource "aws_security_group" "redis" {
  name        = "${var.name}-redis"
  description = "ElastiCache Redis of the shop: 6379 from the workers only"
  vpc_id      = var.vpc_id
  tags        = { Name = "${var.name}-redis" }
}

locals {
  # store <- client: the workers run the pods; the control plane only creates the database roles.
  store_rules = {
    postgres-from-workers       = { store = aws_security_group.postgres.id, client = var.worker_security_group_id, port = 5432, desc = "PostgreSQL from the workers (the shop's pods)" }
    postgres-from-control-plane = { store = aws_security_group.postgres.id, client = var.control_plane_security_group_id, port = 5432, desc = "PostgreSQL from the control plane (Ansible: database roles)" }
    redis-from-workers          = { store = aws_security_group.redis.id, client = var.worker_security_group_id, port = 6379, desc = "Redis (TLS) from the workers (the shop's pods)" }
  }
}

resource "aws_vpc_security_group_ingress_rule" "stores" {
  for_each                     = local.store_rules
  security_group_id            = each.value.store
  referenced_security_group_id = each.value.client
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  description                  = each.value.desc
}

# The nodes' security groups allow only HTTP(S) and node-to-node traffic out: open exactly these.
resource "aws_vpc_security_group_egress_rule" "stores" {
  for_each                     = local.store_rules
  security_group_id            = each.value.client
  referenced_security_group_id = each.value.store
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  description                  = each.value.desc
}

resource "aws_db_subnet_group" "postgres" {
  name       = "${var.name}-postgres"
  subnet_ids = var.subnet_ids
}

resource "aws_elasticache_subnet_group" "redis" {
  name       = "${var.name}-redis"
  subnet_ids = var.subnet_ids
}

# ---------------------------------------------------------------- RDS for PostgreSQL
resource "aws_db_parameter_group" "postgres" {
  name        = "${var.name}-postgres${var.postgres_version}"
  family      = "postgres${var.postgres_version}"
  description = "TLS only; DDL and slow statements logged"

  # Refuse clients that do not use TLS (the shop's db_url says sslmode=require).
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  # Migrations and role changes are audited. Role passwords are sent as SCRAM verifiers
  # (ansible/roles/shop), so no clear-text password reaches this log.
  parameter {
    name  = "log_statement"
    value = "ddl"
  }
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  lifecycle {
    create_before_destroy = true
  }
}

# Enhanced monitoring (OS metrics every 60 s) publishes through this role.
data "aws_iam_policy_document" "rds_monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rds_monitoring" {
  name               = "${var.name}-rds-monitoring"
  assume_role_policy = data.aws_iam_policy_document.rds_monitoring_assume.json
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

# Where RDS exports its logs: created here so that they are encrypted and expire.
module "postgres_logs" {
  source   = "../log-group"
  for_each = toset(["postgresql", "upgrade"])

  log_group_name    = "/aws/rds/instance/${var.name}-postgres/${each.key}"
  description       = "${var.name} RDS PostgreSQL ${each.key} log"
  retention_in_days = var.log_retention_days
  account_id        = var.account_id
  region            = var.region
}

resource "aws_db_instance" "postgres" {
  #checkov:skip=CKV_AWS_161:IAM database authentication is not used: Spin's PostgreSQL client connects with a password from db_url; the app's role is least-privilege and its password lives in a Kubernetes Secret
  identifier     = "${var.name}-postgres"
  engine         = "postgres"
  engine_version = var.postgres_version
  instance_class = var.db_instance_class

  allocated_storage     = var.db_allocated_storage_gb
  max_allocated_storage = var.db_max_allocated_storage_gb
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.stores.arn

  db_name  = "shop"
  username = "shop_master"
  # RDS generates the master password, keeps it in Secrets Manager and rotates it (7 days). Only
  # Ansible reads it, to create and update the roles shop_owner and shop_app.
  manage_master_user_password   = true
  master_user_secret_kms_key_id = aws_kms_key.stores.arn

  multi_az               = true
  db_subnet_group_name   = aws_db_subnet_group.postgres.name
  vpc_security_group_ids = [aws_security_group.postgres.id]
  publicly_accessible    = false
  port                   = 5432
  parameter_group_name   = aws_db_parameter_group.postgres.name
  # Server certificates from this CA; its root is in the RDS global bundle (platform-rds-ca).
  ca_cert_identifier = "rds-ca-rsa2048-g1"

  # Automated backups + transaction logs: point-in-time restore to any second in the window.
  backup_retention_period   = var.db_backup_retention_days
  backup_window             = "01:00-02:00"
  maintenance_window        = "sun:02:30-sun:03:30"
  copy_tags_to_snapshot     = true
  delete_automated_backups  = false
  deletion_protection       = true
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.name}-postgres-final"

  auto_minor_version_upgrade  = true
  allow_major_version_upgrade = false
  apply_immediately           = false

  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.stores.arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.rds_monitoring.arn
  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]

  depends_on = [module.postgres_logs, aws_iam_role_policy_attachment.rds_monitoring]
}

# ---------------------------------------------------------------- ElastiCache for Redis
# AUTH token: letters and digits only (no URL encoding in redis_url, nothing ElastiCache
# refuses). Rotation: see docs/deploy.md "Stores".
resource "random_password" "redis_auth" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "redis_auth" {
  #checkov:skip=CKV2_AWS_57:Rotated by Terraform, not by a Lambda: replacing random_password.redis_auth updates the replication group with auth_token_update_strategy ROTATE (old and new token both valid) and this secret (docs/deploy.md, "Stores")
  name        = "${var.name}/redis-auth"
  description = "AUTH token of the shop's ElastiCache Redis (redis_url = rediss://:<token>@<primary endpoint>:6379)"
  kms_key_id  = aws_kms_key.stores.arn
}

resource "aws_secretsmanager_secret_version" "redis_auth" {
  secret_id     = aws_secretsmanager_secret.redis_auth.id
  secret_string = random_password.redis_auth.result
}

module "redis_logs" {
  source = "../log-group"

  log_group_name    = "/aws/elasticache/${var.name}-redis/slow-log"
  description       = "${var.name} ElastiCache Redis slow log"
  retention_in_days = var.log_retention_days
  account_id        = var.account_id
  region            = var.region
}

resource "aws_elasticache_replication_group" "redis" {
  replication_group_id = "${var.name}-redis"
  description          = "The shop's carts, payments, shipments and outbox"
  engine               = "redis"
  engine_version       = "7.1"
  # Cluster mode disabled: one shard, one primary endpoint (Spin's Redis client is not cluster-aware).
  parameter_group_name = "default.redis7"
  node_type            = var.cache_node_type
  num_cache_clusters   = var.cache_nodes
  port                 = 6379

  subnet_group_name          = aws_elasticache_subnet_group.redis.name
  security_group_ids         = [aws_security_group.redis.id]
  automatic_failover_enabled = true
  multi_az_enabled           = true

  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.stores.arn
  transit_encryption_enabled = true
  transit_encryption_mode    = "required"
  auth_token                 = random_password.redis_auth.result
  auth_token_update_strategy = "ROTATE"

  snapshot_retention_limit  = var.cache_snapshot_retention_days
  snapshot_window           = "01:00-02:00"
  maintenance_window        = "sun:02:30-sun:03:30"
  final_snapshot_identifier = "${var.name}-redis-final"

  auto_minor_version_upgrade = true
  apply_immediately          = false

  log_delivery_configuration {
    destination      = "/aws/elasticache/${var.name}-redis/slow-log"
    destination_type = "cloudwatch-logs"
    log_format       = "json"
    log_type         = "slow-log"
  }

  depends_on = [module.redis_logs]
}
