terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
    # The ElastiCache AUTH token (random_password). Its value is in the state (encrypted bucket).
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}
