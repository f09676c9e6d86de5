variable "name" {
  description = "Name prefix."
  type        = string
}

variable "vpc_cidr" {
  description = "VPC CIDR."
  type        = string
}

variable "single_nat_gateway" {
  description = "One NAT gateway instead of one per AZ."
  type        = bool
}

variable "log_retention_days" {
  description = "Flow log retention."
  type        = number
}

variable "account_id" {
  description = "AWS account id (KMS key policy)."
  type        = string
}

variable "region" {
  description = "AWS region (KMS key policy, VPC endpoints)."
  type        = string
}
