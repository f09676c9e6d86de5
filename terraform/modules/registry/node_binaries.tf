# Binaries the nodes install that upstream publishes without a checksum or signature: today
# containerd-shim-spin, which CI builds from the exact upstream commit pinned in
# ansible/group_vars/all/versions.yml (.circleci/config.yml, job shim). Versioned; readable only
# through the VPC's S3 gateway endpoint (no node depends on GitHub at boot), written only by the
# push role. SSE-S3 rather than KMS (module sse-s3-bucket): the nodes read anonymously through
# the endpoint, and an anonymous request cannot use a KMS key. Each binary's sha256 goes to SSM
# Parameter Store, another service than the one serving the file, where Ansible reads it.
module "node_binaries" {
  source = "../sse-s3-bucket"

  bucket            = local.node_binaries_bucket
  policy_json       = data.aws_iam_policy_document.node_binaries.json
  lifecycle_rule_id = "old-versions"
  noncurrent_days   = 365
}

# A condition on aws:SourceVpce keeps this policy non-public for S3's public access block.
data "aws_iam_policy_document" "node_binaries" {
  statement {
    sid       = "NodesReadThroughTheVpcEndpoint"
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::${local.node_binaries_bucket}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceVpce"
      values   = [var.s3_endpoint_id]
    }
  }
}

locals {
  node_binaries_bucket = "${var.name}-node-binaries-${var.account_id}"
  # SSM parameters /<name>/node-binaries/<binary>/<commit>/<arch>/sha256
  node_binary_parameters = "arn:aws:ssm:${var.region}:${var.account_id}:parameter/${var.name}/node-binaries/*"
}

data "aws_iam_policy_document" "ci_push_node_binaries" {
  statement {
    sid       = "PublishNodeBinaries"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${module.node_binaries.arn}/*"]
  }
  statement {
    sid       = "RecordNodeBinaryChecksums"
    actions   = ["ssm:PutParameter", "ssm:GetParameter"]
    resources = [local.node_binary_parameters]
  }
}

resource "aws_iam_role_policy" "ci_push_node_binaries" {
  name   = "publish-node-binaries"
  role   = aws_iam_role.ci_push.id
  policy = data.aws_iam_policy_document.ci_push_node_binaries.json
}
