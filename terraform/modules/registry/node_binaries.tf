# Binaries the nodes install that upstream publishes without a checksum or signature: today
# containerd-shim-spin, which CI builds from the exact upstream commit pinned in
# ansible/group_vars/all/versions.yml (.circleci/config.yml, job shim). Versioned; readable only
# through the VPC's S3 gateway endpoint (no node depends on GitHub at boot), written only by the
# push role. SSE-S3 rather than KMS: the nodes read anonymously through the endpoint, and an
# anonymous request cannot use a KMS key. Each binary's sha256 goes to SSM Parameter Store,
# another service than the one serving the file, where Ansible reads it.
resource "aws_s3_bucket" "node_binaries" {
  #checkov:skip=CKV_AWS_145:Nodes read through the VPC endpoint without credentials, which SSE-KMS would refuse; SSE-S3 with versioning
  #checkov:skip=CKV_AWS_18:Writes come only from the CI push role (CloudTrail); reads only through the VPC endpoint
  #checkov:skip=CKV2_AWS_62:No consumer for object events
  #checkov:skip=CKV_AWS_144:Rebuildable from the pinned upstream commit; no cross-region copy needed
  bucket = "${var.name}-node-binaries-${var.account_id}"
}

resource "aws_s3_bucket_public_access_block" "node_binaries" {
  bucket                  = aws_s3_bucket.node_binaries.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "node_binaries" {
  bucket = aws_s3_bucket.node_binaries.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "node_binaries" {
  bucket = aws_s3_bucket.node_binaries.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "node_binaries" {
  bucket = aws_s3_bucket.node_binaries.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "node_binaries" {
  bucket = aws_s3_bucket.node_binaries.id
  rule {
    id     = "old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 365
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

data "aws_iam_policy_document" "node_binaries" {
  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.node_binaries.arn, "${aws_s3_bucket.node_binaries.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
  # A condition on aws:SourceVpce keeps this policy non-public for S3's public access block.
  statement {
    sid       = "NodesReadThroughTheVpcEndpoint"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.node_binaries.arn}/*"]
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

resource "aws_s3_bucket_policy" "node_binaries" {
  bucket     = aws_s3_bucket.node_binaries.id
  policy     = data.aws_iam_policy_document.node_binaries.json
  depends_on = [aws_s3_bucket_public_access_block.node_binaries]
}

locals {
  # SSM parameters /<name>/node-binaries/<binary>/<commit>/<arch>/sha256
  node_binary_parameters = "arn:aws:ssm:${var.region}:${var.account_id}:parameter/${var.name}/node-binaries/*"
}

data "aws_iam_policy_document" "ci_push_node_binaries" {
  statement {
    sid       = "PublishNodeBinaries"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${aws_s3_bucket.node_binaries.arn}/*"]
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
