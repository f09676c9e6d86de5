# The shop's OCI artifact (spin registry push): immutable tags, scanned on push, KMS-encrypted.
# CI reaches AWS through CircleCI's OIDC tokens, no long-lived keys.
resource "aws_kms_key" "ecr" {
  description         = "${var.name} ECR repository"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministration"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${var.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
}

resource "aws_ecr_repository" "shop" {
  name                 = var.repository_name
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.ecr.arn
  }
}

resource "aws_ecr_lifecycle_policy" "shop" {
  repository = aws_ecr_repository.shop.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last 100 artifacts (rollback targets)"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = 100
      }
      action = { type = "expire" }
    }]
  })
}

# ---------------------------------------------------------------- CircleCI OIDC
locals {
  oidc_host = "oidc.circleci.com/org/${var.circleci_org_id}"
}

resource "aws_iam_openid_connect_provider" "circleci" {
  url            = "https://${local.oidc_host}"
  client_id_list = [var.circleci_org_id]
}

data "aws_iam_policy_document" "ci_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.circleci.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:aud"
      values   = [var.circleci_org_id]
    }
    # Only this project's pipelines (branch restriction: CircleCI restricted contexts).
    condition {
      test     = "StringLike"
      variable = "${local.oidc_host}:sub"
      values   = ["org/${var.circleci_org_id}/project/${var.circleci_project_id}/user/*"]
    }
  }
}

resource "aws_iam_role" "ci_push" {
  name                 = "${var.name}-ci-push"
  assume_role_policy   = data.aws_iam_policy_document.ci_assume.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "ci_push" {
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid = "PushShopArtifact"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [aws_ecr_repository.shop.arn]
  }
  statement {
    sid       = "RepositoryKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.ecr.arn]
  }
}

resource "aws_iam_role_policy" "ci_push" {
  name   = "push-shop-artifact"
  role   = aws_iam_role.ci_push.id
  policy = data.aws_iam_policy_document.ci_push.json
}

resource "aws_iam_role" "ci_deploy" {
  name                 = "${var.name}-ci-deploy"
  assume_role_policy   = data.aws_iam_policy_document.ci_assume.json
  max_session_duration = 3600
}

# kubectl from CI: an SSM port-forwarding session to the control plane's API server (6443),
# nothing else. Kubernetes RBAC (ansible/roles/shop: ServiceAccount shop-deployer) limits what
# the token can change.
data "aws_iam_policy_document" "ci_deploy" {
  statement {
    sid     = "PortForwardToControlPlane"
    actions = ["ssm:StartSession"]
    resources = [
      var.control_plane_instance_arn,
      "arn:aws:ssm:${var.region}::document/AWS-StartPortForwardingSession",
    ]
  }
  statement {
    sid       = "EndOwnSessions"
    actions   = ["ssm:TerminateSession", "ssm:ResumeSession"]
    resources = ["arn:aws:ssm:${var.region}:${var.account_id}:session/*"]
    condition {
      test     = "StringLike"
      variable = "ssm:resourceTag/aws:ssmmessages:session-id"
      values   = ["$${aws:userid}*"]
    }
  }
  statement {
    sid       = "ReadArtifact"
    actions   = ["ecr:DescribeImages"]
    resources = [aws_ecr_repository.shop.arn]
  }
}

resource "aws_iam_role_policy" "ci_deploy" {
  name   = "deploy-shop"
  role   = aws_iam_role.ci_deploy.id
  policy = data.aws_iam_policy_document.ci_deploy.json
}
