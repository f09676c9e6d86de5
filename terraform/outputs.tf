# Read by ansible/inventory/from-terraform (terraform output -json) and by docs/deploy.md.
output "region" {
  description = "AWS region (aws_ec2 inventory, ECR login)."
  value       = var.region
}

output "project" {
  description = "Project tag the aws_ec2 inventory filters on."
  value       = var.project
}

output "environment" {
  description = "Environment tag the aws_ec2 inventory filters on."
  value       = var.environment
}

output "control_plane_instance_id" {
  description = "SSM target of the control plane (Ansible, kubectl port-forwarding from CI)."
  value       = module.cluster.control_plane_instance_id
}

output "control_plane_private_ip" {
  description = "kubeadm controlPlaneEndpoint (port 6443)."
  value       = module.cluster.control_plane_private_ip
}

output "worker_asg_name" {
  description = "Autoscaling group of the workers."
  value       = module.cluster.worker_asg_name
}

output "worker_join_parameter" {
  description = "SSM SecureString with the current kubeadm join command (control plane writes, workers read)."
  value       = module.cluster.join_parameter_name
}

output "drain_document_name" {
  description = "SSM document EventBridge sends to the control plane to drain a terminating worker."
  value       = module.cluster.drain_document_name
}

output "vpc_cidr" {
  description = "The VPC's range: the node addresses kubelet-csr-approver accepts."
  value       = var.vpc_cidr
}

output "pod_cidr" {
  description = "Pod network (kubeadm podSubnet, Calico IP pool); outside the VPC range."
  value       = module.cluster.pod_cidr
}

output "ingress_node_ports" {
  description = "NodePorts the Istio ingress gateway must use (the load balancer targets them)."
  value       = var.ingress_node_ports
}

output "ecr_repository_url" {
  description = "Where CI pushes the shop's OCI artifact."
  value       = module.registry.repository_url
}

output "ci_push_role_arn" {
  description = "CircleCI OIDC role for `spin registry push` (context variable AWS_PUSH_ROLE_ARN)."
  value       = module.registry.ci_push_role_arn
}

output "ci_deploy_role_arn" {
  description = "CircleCI OIDC role for the deploy job (context variable AWS_DEPLOY_ROLE_ARN)."
  value       = module.registry.ci_deploy_role_arn
}

output "deploy_document_name" {
  description = "SSM document the deploy job runs on the control plane (context variable DEPLOY_DOCUMENT_NAME)."
  value       = module.registry.deploy_document_name
}

output "node_binaries_bucket" {
  description = "Where CI publishes containerd-shim-spin for the nodes (context variable NODE_BINARIES_BUCKET)."
  value       = module.registry.node_binaries_bucket
}

output "name" {
  description = "Name prefix of the resources (SSM parameters /<name>/node-binaries/...)."
  value       = local.name
}

output "public_url" {
  description = "The shop's public URL."
  value       = "https://${var.domain_name}"
}

output "load_balancer_dns_name" {
  description = "DNS name of the public Application Load Balancer."
  value       = module.cluster.alb_dns_name
}

output "ebs_kms_key_arn" {
  description = "KMS key for EBS volumes (root volumes and the EBS CSI StorageClass)."
  value       = module.cluster.ebs_kms_key_arn
}

# Managed stores (null with managed_stores = false). Not secret: endpoints and secret ARNs.
output "db_host" {
  description = "host:port of RDS PostgreSQL (external-stores: db_host)."
  value       = try(module.stores[0].db_host, null)
}

output "db_instance_identifier" {
  description = "RDS instance (point-in-time restore source)."
  value       = try(module.stores[0].db_instance_identifier, null)
}

output "db_master_secret_arn" {
  description = "Secrets Manager secret of the RDS master credentials (read by Ansible only)."
  value       = try(module.stores[0].db_master_secret_arn, null)
}

output "redis_host" {
  description = "host:port of the ElastiCache primary endpoint (external-stores: redis_host)."
  value       = try(module.stores[0].redis_host, null)
}

output "redis_replication_group_id" {
  description = "ElastiCache replication group (snapshot restore source)."
  value       = try(module.stores[0].redis_replication_group_id, null)
}

output "redis_auth_secret_arn" {
  description = "Secrets Manager secret of the Redis AUTH token (read by Ansible only)."
  value       = try(module.stores[0].redis_auth_secret_arn, null)
}

output "docker_hub_credential_secret" {
  description = "Secret read by the Docker Hub pull-through cache rule: set it once (docs/deploy.md, section 3)."
  value       = module.registry.docker_hub_credential_secret
}
