variable "name" {
  description = "Name prefix."
  type        = string
}

variable "repository_name" {
  description = "ECR repository name."
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

variable "circleci_org_id" {
  description = "CircleCI organization id (OIDC)."
  type        = string
}

variable "circleci_project_id" {
  description = "CircleCI project id (OIDC subject)."
  type        = string
}

variable "control_plane_instance_arn" {
  description = "The deploy role may run the deploy document on this instance (the control plane)."
  type        = string
}

variable "s3_endpoint_id" {
  description = "The VPC's S3 gateway endpoint: the only way to read the node binaries bucket."
  type        = string
}

variable "node_role_names" {
  description = "IAM roles of the nodes (name by key), allowed to pull through the cache rules."
  type        = map(string)
}
