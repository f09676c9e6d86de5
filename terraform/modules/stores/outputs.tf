output "db_host" {
  description = "host:port of the PostgreSQL endpoint (Multi-AZ: the name follows a failover)."
  value       = "${aws_db_instance.postgres.address}:${aws_db_instance.postgres.port}"
}

output "db_name" {
  description = "The shop's database."
  value       = aws_db_instance.postgres.db_name
}

output "db_instance_identifier" {
  description = "RDS instance identifier (point-in-time restore source)."
  value       = aws_db_instance.postgres.identifier
}

output "db_master_secret_arn" {
  description = "Secrets Manager secret RDS keeps the master credentials in (JSON username/password)."
  value       = aws_db_instance.postgres.master_user_secret[0].secret_arn
}

output "redis_host" {
  description = "host:port of the Redis primary endpoint (follows a failover)."
  value       = "${aws_elasticache_replication_group.redis.primary_endpoint_address}:${aws_elasticache_replication_group.redis.port}"
}

output "redis_replication_group_id" {
  description = "ElastiCache replication group id (snapshot restore source)."
  value       = aws_elasticache_replication_group.redis.id
}

output "redis_auth_secret_arn" {
  description = "Secrets Manager secret with the Redis AUTH token."
  value       = aws_secretsmanager_secret.redis_auth.arn
}

output "kms_key_arn" {
  description = "KMS key of the stores (restored copies must use it too)."
  value       = aws_kms_key.stores.arn
}
