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

# Two kinds of images: the artifacts (tag = commit) and, for each, cosign's signature (tag
# sha256-<digest>.sig). The signatures get their own rule, first; a lower-priority rule cannot
# expire what it matches, but still counts it ("Lifecycle policy evaluation rules", ECR user
# guide), so the last rule's window of 200 images holds the last 100 artifacts and their 100
# signatures: 100 rollback targets, not 50. ECR patterns have only `*`: commit tags cannot be
# selected apart from the signatures.
resource "aws_ecr_lifecycle_policy" "shop" {
  repository = aws_ecr_repository.shop.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Keep the signatures of the last 100 artifacts (cosign, sha256-<digest>.sig)"
        selection = {
          tagStatus      = "tagged"
          tagPatternList = ["sha256-*.sig"]
          countType      = "imageCountMoreThan"
          countNumber    = 100
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the last 100 artifacts (commit tags; rollback targets) next to their 100 signatures"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = 200
        }
        action = { type = "expire" }
      },
    ]
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

# CI deploys by asking the control plane to run runtime-k8s/deploy.sh, through this document and
# nothing else: no API server access, no cluster token, no Session Manager plugin in CI. The one
# parameter is the artifact, by digest, of this account's repository; the pattern leaves no room
# for anything else in the command line. The overlay and the manifests are the ones Ansible
# installed on the control plane (ansible/roles/shop), and deploy.sh acts as the namespaced
# shop-deployer ServiceAccount.
resource "aws_ssm_document" "deploy" {
  name            = "${var.name}-deploy"
  document_type   = "Command"
  document_format = "YAML"
  content = yamlencode({
    schemaVersion = "2.2"
    description   = "Deploy the shop's OCI artifact (by digest) with runtime-k8s/deploy.sh, then migrate."
    parameters = {
      ImageReference = {
        type           = "String"
        description    = "The artifact CI pushed: <repository>@sha256:<digest>."
        allowedPattern = "^${replace(aws_ecr_repository.shop.repository_url, ".", "\\.")}@sha256:[0-9a-f]{64}$"
      }
    }
    mainSteps = [{
      action = "aws:runShellScript"
      name   = "deploy"
      inputs = {
        timeoutSeconds = "1800"
        runCommand = [
          "set -eu",
          "cd /opt/shop",
          "KUBECONFIG=/opt/shop/deployer.kubeconfig bash runtime-k8s/deploy.sh \"$(cat overlay)\" '{{ ImageReference }}'",
        ]
      }
    }]
  })
}

data "aws_iam_policy_document" "ci_deploy" {
  # SendCommand is authorised against the document and the instance: only this one on that one.
  statement {
    sid       = "RunTheDeployDocumentOnTheControlPlane"
    actions   = ["ssm:SendCommand"]
    resources = [aws_ssm_document.deploy.arn, var.control_plane_instance_arn]
  }
  statement {
    sid       = "ReadCommandResults"
    actions   = ["ssm:GetCommandInvocation", "ssm:ListCommandInvocations"]
    resources = ["*"]
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
