variable "bucket" {
  description = "Bucket name."
  type        = string
}

variable "policy_json" {
  description = "The caller's policy statements (an aws_iam_policy_document's json), merged with TLS-only."
  type        = string
}

variable "lifecycle_rule_id" {
  description = "Id of the lifecycle rule."
  type        = string
}

variable "expiration_days" {
  description = "Days after which current objects expire; null keeps them."
  type        = number
  default     = null
}

variable "noncurrent_days" {
  description = "Days after which replaced versions expire."
  type        = number
}
