locals {
  name = "${var.project}-${var.environment}"
  tags = {
    Project     = var.project
    Environment = var.environment
    ManagedBy   = "terraform"
  }
}

data "aws_caller_identity" "current" {}

module "network" {
  source = "./modules/network"

  name               = local.name
  vpc_cidr           = var.vpc_cidr
  single_nat_gateway = var.single_nat_gateway
  log_retention_days = var.log_retention_days
  account_id         = data.aws_caller_identity.current.account_id
  region             = var.region
}

module "registry" {
  source = "./modules/registry"

  name                = local.name
  repository_name     = var.ecr_repository_name
  account_id          = data.aws_caller_identity.current.account_id
  region              = var.region
  circleci_org_id     = var.circleci_org_id
  circleci_project_id = var.circleci_project_id
  # The deploy role may run the deploy document on the control plane, and nothing else.
  control_plane_instance_arn = module.cluster.control_plane_instance_arn
  # The nodes read the binaries CI builds for them through this endpoint only.
  s3_endpoint_id = module.network.s3_endpoint_id
  # The nodes pull third-party images through the registry's pull-through cache rules.
  node_role_names = module.cluster.node_role_names
}

module "cluster" {
  source = "./modules/cluster"

  name                        = local.name
  project                     = var.project
  environment                 = var.environment
  account_id                  = data.aws_caller_identity.current.account_id
  region                      = var.region
  vpc_id                      = module.network.vpc_id
  public_subnet_ids           = module.network.public_subnet_ids
  private_subnet_ids          = module.network.private_subnet_ids
  architecture                = var.architecture
  control_plane_instance_type = var.control_plane_instance_type
  worker_instance_type        = var.worker_instance_type
  worker_count                = var.worker_count
  root_volume_size_gb         = var.root_volume_size_gb
  ssh_public_key              = var.ssh_public_key
  domain_name                 = var.domain_name
  route53_zone_id             = var.route53_zone_id
  ingress_node_ports          = var.ingress_node_ports
  ecr_repository_arn          = module.registry.repository_arn
  ecr_kms_key_arn             = module.registry.kms_key_arn
  # New workers fetch their Ansible bundle from it at first boot (user-data).
  node_binaries_bucket = module.registry.node_binaries_bucket
}

# Production stores: RDS PostgreSQL (Multi-AZ, PITR) and ElastiCache Redis (replicas, TLS, AUTH),
# used by the external-stores overlay (docs/deploy.md, "Stores"). Off: the in-cluster demo stores.
module "stores" {
  source = "./modules/stores"
  count  = var.managed_stores ? 1 : 0

  name                            = local.name
  account_id                      = data.aws_caller_identity.current.account_id
  region                          = var.region
  vpc_id                          = module.network.vpc_id
  subnet_ids                      = module.network.private_subnet_ids
  worker_security_group_id        = module.cluster.worker_security_group_id
  control_plane_security_group_id = module.cluster.control_plane_security_group_id
  log_retention_days              = var.log_retention_days
}
