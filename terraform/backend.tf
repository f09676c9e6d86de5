# Remote state in S3 with S3-native locking (a .tflock object next to the state; no DynamoDB
# table needed since Terraform 1.10). The bucket comes from ./bootstrap (see README.md); the
# rest is given at init time so no account id is committed:
#   terraform init -backend-config=backend.hcl      (copy backend.hcl.example)
terraform {
  backend "s3" {
    key          = "shop/prod/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}
