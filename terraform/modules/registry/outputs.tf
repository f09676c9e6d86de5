output "repository_url" {
  description = "ECR repository URL."
  value       = aws_ecr_repository.shop.repository_url
}

output "repository_arn" {
  description = "ECR repository ARN (node pull permissions)."
  value       = aws_ecr_repository.shop.arn
}

output "kms_key_arn" {
  description = "KMS key encrypting the repository (pullers need kms:Decrypt)."
  value       = aws_kms_key.ecr.arn
}

output "ci_push_role_arn" {
  description = "Role CircleCI assumes to push."
  value       = aws_iam_role.ci_push.arn
}

output "ci_deploy_role_arn" {
  description = "Role CircleCI assumes to deploy."
  value       = aws_iam_role.ci_deploy.arn
}

output "deploy_document_name" {
  description = "SSM Command document CI sends to the control plane to deploy."
  value       = aws_ssm_document.deploy.name
}

output "node_binaries_bucket" {
  description = "Bucket of the binaries CI builds for the nodes (containerd-shim-spin)."
  value       = module.node_binaries.id
}

output "pull_through_cache_prefixes" {
  description = "Repository prefixes of the pull-through cache rules (<registry>/<prefix>/<upstream path>)."
  value       = local.pull_through_prefixes
}

output "docker_hub_credential_secret" {
  description = "Secrets Manager secret the Docker Hub pull-through rule reads (the operator sets its value)."
  value       = aws_secretsmanager_secret.docker_hub.name
}
