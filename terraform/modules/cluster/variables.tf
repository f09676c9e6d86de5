variable "name" {
  description = "Name prefix."
  type        = string
}

variable "project" {
  description = "Project tag (Ansible inventory filter)."
  type        = string
}

variable "environment" {
  description = "Environment tag (Ansible inventory filter)."
  type        = string
}

variable "account_id" {
  description = "AWS account id."
  type        = string
}

variable "region" {
  description = "AWS region."
  type        = string
}

variable "vpc_id" {
  description = "VPC id."
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets of the load balancer."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Subnets of the nodes."
  type        = list(string)
}

variable "architecture" {
  description = "x86_64 or arm64."
  type        = string
}

variable "control_plane_instance_type" {
  description = "Control-plane instance type."
  type        = string
}

variable "worker_instance_type" {
  description = "Worker instance type."
  type        = string
}

variable "worker_count" {
  description = "Worker autoscaling group sizes."
  type = object({
    min     = number
    desired = number
    max     = number
  })
}

variable "root_volume_size_gb" {
  description = "Root volume size."
  type        = number
}

variable "ssh_public_key" {
  description = "Ansible's SSH public key (SSH only through SSM)."
  type        = string
}

variable "domain_name" {
  description = "Public host name."
  type        = string
}

variable "route53_zone_id" {
  description = "Hosted zone of domain_name."
  type        = string
}

variable "ingress_node_ports" {
  description = "NodePorts of the ingress gateway."
  type = object({
    http   = number
    status = number
  })
}

variable "ecr_repository_arn" {
  description = "Repository the nodes pull the shop from."
  type        = string
}

variable "ecr_kms_key_arn" {
  description = "KMS key of the repository."
  type        = string
}

variable "pod_cidr" {
  description = "Pod network (Calico); must not overlap the VPC."
  type        = string
  default     = "192.168.0.0/16"
}

variable "node_binaries_bucket" {
  description = "Bucket of the node binaries and the workers' Ansible bundle (read through the VPC's S3 endpoint)."
  type        = string
}
