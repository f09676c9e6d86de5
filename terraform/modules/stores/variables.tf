variable "name" {
  description = "Name prefix."
  type        = string
}

variable "account_id" {
  description = "AWS account id (KMS key policy)."
  type        = string
}

variable "region" {
  description = "AWS region (log groups)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the stores and the cluster."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets, one per AZ (at least two: Multi-AZ)."
  type        = list(string)
  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids: at least two subnets in different AZs."
  }
}

variable "worker_security_group_id" {
  description = "Security group of the worker nodes: the only clients of both stores (pods run there)."
  type        = string
}

variable "control_plane_security_group_id" {
  description = "Security group of the control plane: Ansible creates the database roles from there (PostgreSQL only)."
  type        = string
}

variable "postgres_version" {
  description = "RDS for PostgreSQL major version (minor versions are upgraded by RDS)."
  type        = string
  default     = "17"
}

variable "db_instance_class" {
  description = "RDS instance class (Performance Insights needs db.t4g.medium or larger)."
  type        = string
  default     = "db.t4g.medium"
}

variable "db_allocated_storage_gb" {
  description = "Initial gp3 storage; storage autoscaling grows it up to db_max_allocated_storage_gb."
  type        = number
  default     = 20
}

variable "db_max_allocated_storage_gb" {
  description = "Upper bound of storage autoscaling."
  type        = number
  default     = 100
}

variable "db_backup_retention_days" {
  description = "Automated backups (point-in-time restore window) in days."
  type        = number
  default     = 14
  validation {
    condition     = var.db_backup_retention_days >= 7 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be between 7 and 35."
  }
}

variable "cache_node_type" {
  description = "ElastiCache node type (must support in-transit encryption)."
  type        = string
  default     = "cache.t4g.small"
}

variable "cache_nodes" {
  description = "Nodes of the Redis replication group: one primary and the rest replicas, spread over the AZs."
  type        = number
  default     = 2
  validation {
    condition     = var.cache_nodes >= 2 && var.cache_nodes <= 6
    error_message = "cache_nodes must be between 2 (primary + replica, automatic failover) and 6."
  }
}

variable "cache_snapshot_retention_days" {
  description = "Daily ElastiCache snapshots kept."
  type        = number
  default     = 7
  validation {
    condition     = var.cache_snapshot_retention_days >= 1 && var.cache_snapshot_retention_days <= 35
    error_message = "cache_snapshot_retention_days must be between 1 and 35."
  }
}

variable "log_retention_days" {
  description = "Retention of the stores' CloudWatch logs."
  type        = number
}
