terraform {
  # >= 1.10: S3 backend native locking (use_lockfile). CI runs the pinned version (.circleci).
  required_version = ">= 1.10.0, < 2.0.0"

  required_providers {
    # Exact versions: .terraform.lock.hcl (committed) records their hashes for every platform,
    # and CI runs `terraform init -lockfile=readonly`. Hashes read from public lock files of
    # the same versions (docs/deploy.md, section 1). Bump a version and its lock entry together.
    aws = {
      source  = "hashicorp/aws"
      version = "6.49.0"
    }
    # modules/stores (random_password) asks for ~> 3.6; pinned here to one version.
    random = {
      source  = "hashicorp/random"
      version = "3.9.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}
