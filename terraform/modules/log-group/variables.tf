variable "log_group_name" {
  description = "Name of the log group."
  type        = string
}

variable "description" {
  description = "Description of its KMS key."
  type        = string
}

variable "retention_in_days" {
  description = "How long CloudWatch keeps the logs."
  type        = number
}

variable "account_id" {
  description = "AWS account id."
  type        = string
}

variable "region" {
  description = "AWS region."
  type        = string
}
