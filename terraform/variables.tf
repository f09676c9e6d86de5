variable "project" {
  description = "Name prefix and Project tag of every resource (the Ansible inventory filters on it)."
  type        = string
  default     = "shop"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.project))
    error_message = "project: 2-21 characters, lower-case letters, digits and dashes, starting with a letter."
  }
}

variable "environment" {
  description = "Environment tag (prod, staging)."
  type        = string
  default     = "prod"
  validation {
    condition     = contains(["prod", "staging"], var.environment)
    error_message = "environment must be prod or staging."
  }
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-central-1"
  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like eu-central-1."
  }
}

variable "vpc_cidr" {
  description = "VPC CIDR; split into 2 public and 2 private subnets (one of each per AZ)."
  type        = string
  default     = "10.40.0.0/16"
  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be a valid IPv4 CIDR of /20 or larger."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for both AZs (cheaper, not AZ-resilient) instead of one per AZ."
  type        = bool
  default     = false
}

variable "architecture" {
  description = "CPU architecture of the nodes: x86_64 or arm64 (containerd-shim-spin ships both)."
  type        = string
  default     = "x86_64"
  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "control_plane_instance_type" {
  description = "EC2 type of the control-plane node (kubeadm needs >= 2 vCPU, 2 GiB)."
  type        = string
  default     = "t3.large"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.control_plane_instance_type))
    error_message = "control_plane_instance_type must be an EC2 instance type like t3.large."
  }
}

variable "worker_instance_type" {
  description = "EC2 type of the worker nodes."
  type        = string
  default     = "t3.large"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.worker_instance_type))
    error_message = "worker_instance_type must be an EC2 instance type like t3.large."
  }
}

variable "worker_count" {
  description = "Workers: min, desired and max size of the autoscaling group."
  type = object({
    min     = number
    desired = number
    max     = number
  })
  default = { min = 2, desired = 3, max = 6 }
  validation {
    condition     = var.worker_count.min >= 2 && var.worker_count.min <= var.worker_count.desired && var.worker_count.desired <= var.worker_count.max
    error_message = "worker_count needs 2 <= min <= desired <= max (two AZs, PodDisruptionBudgets with minAvailable 1)."
  }
}

variable "root_volume_size_gb" {
  description = "Size of each node's encrypted gp3 root volume."
  type        = number
  default     = 50
  validation {
    condition     = var.root_volume_size_gb >= 30 && var.root_volume_size_gb <= 1000
    error_message = "root_volume_size_gb must be between 30 and 1000."
  }
}

variable "ssh_public_key" {
  description = "Public key Ansible logs in with. SSH is only reachable through SSM Session Manager (no port 22 open)."
  type        = string
  validation {
    condition     = can(regex("^(ssh-ed25519|ecdsa-sha2-nistp256|ssh-rsa) [A-Za-z0-9+/=]+", var.ssh_public_key))
    error_message = "ssh_public_key must be an OpenSSH public key (ssh-ed25519 recommended)."
  }
}

variable "domain_name" {
  description = "Public host name of the shop (an A/ALIAS record in route53_zone_id points it at the load balancer)."
  type        = string
  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,}$", var.domain_name))
    error_message = "domain_name must be a lower-case DNS name like shop.example.com."
  }
}

variable "route53_zone_id" {
  description = "Route 53 public hosted zone holding domain_name (ACM DNS validation and the alias record)."
  type        = string
  validation {
    condition     = can(regex("^Z[A-Z0-9]{4,32}$", var.route53_zone_id))
    error_message = "route53_zone_id must be a Route 53 hosted zone id (Z...)."
  }
}

variable "ingress_node_ports" {
  description = "NodePorts of the Istio ingress gateway Service (ansible/roles/istio pins the same)."
  type = object({
    http   = number
    status = number
  })
  default = { http = 30080, status = 30021 }
  validation {
    condition     = alltrue([for p in values(var.ingress_node_ports) : p >= 30000 && p <= 32767])
    error_message = "ingress_node_ports must be in the NodePort range 30000-32767."
  }
}

variable "ecr_repository_name" {
  description = "ECR repository of the shop's OCI artifact (spin registry push)."
  type        = string
  default     = "shop"
  validation {
    condition     = can(regex("^[a-z0-9]+([._/-][a-z0-9]+)*$", var.ecr_repository_name))
    error_message = "ecr_repository_name must be a valid ECR repository name."
  }
}

variable "circleci_org_id" {
  description = "CircleCI organization id (OIDC issuer https://oidc.circleci.com/org/<id>)."
  type        = string
  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.circleci_org_id))
    error_message = "circleci_org_id must be a UUID."
  }
}

variable "circleci_project_id" {
  description = "CircleCI project id allowed to assume the CI roles."
  type        = string
  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.circleci_project_id))
    error_message = "circleci_project_id must be a UUID."
  }
}

variable "log_retention_days" {
  description = "Retention of VPC flow logs (CloudWatch)."
  type        = number
  default     = 365
  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch retention value of at least 365."
  }
}

variable "managed_stores" {
  description = "Create RDS PostgreSQL and ElastiCache Redis for the external-stores overlay (false: only the in-cluster demo stores)."
  type        = bool
  default     = true
}
