# Third-party images (the in-cluster stores, the migration Job's curl) come through ECR pull-through
# cache rules of this account, pulled by digest (runtime-k8s: `pull-through.invalid/<prefix>/...`,
# which runtime-k8s/deploy.sh replaces with this account's registry host). Nodes then never meet
# Docker Hub's anonymous pull limits, and a digest that upstream no longer serves fails the pull
# instead of being replaced. ECR Public and registry.k8s.io need no credentials; Docker Hub does:
# its rule reads a Secrets Manager secret this module creates empty, which the operator fills
# once (docs/deploy.md, section 3). Until then only pulls through that one rule fail.
locals {
  pull_through_upstreams = {
    "ecr-public" = "public.ecr.aws"
    "k8s"        = "registry.k8s.io"
  }
  pull_through_prefixes = concat(keys(local.pull_through_upstreams), ["docker-hub"])
}

resource "aws_ecr_pull_through_cache_rule" "public" {
  for_each              = local.pull_through_upstreams
  ecr_repository_prefix = each.key
  upstream_registry_url = each.value
}

# The name must start with ecr-pullthroughcache/. Value: {"username": "...", "accessToken": "..."}
# (a Docker Hub personal access token with public read-only scope).
resource "aws_secretsmanager_secret" "docker_hub" {
  #checkov:skip=CKV_AWS_149:ECR's pull-through cache reads this secret with the AWS managed key; a read-only Docker Hub token
  #checkov:skip=CKV2_AWS_57:A Docker Hub access token cannot be rotated by a Lambda; rotated by the operator (docs/deploy.md)
  name        = "ecr-pullthroughcache/${var.name}-docker-hub"
  description = "Docker Hub read-only token for the ECR pull-through cache (set by the operator)."
}

resource "aws_ecr_pull_through_cache_rule" "docker_hub" {
  ecr_repository_prefix = "docker-hub"
  upstream_registry_url = "registry-1.docker.io"
  credential_arn        = aws_secretsmanager_secret.docker_hub.arn
}

# The nodes (kubelet's ecr-credential-provider) pull through the cache: the first pull of an image
# creates its repository and imports it from upstream.
data "aws_iam_policy_document" "pull_through_cache" {
  statement {
    sid = "PullThroughCache"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:BatchImportUpstreamImage",
      "ecr:CreateRepository",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [for p in local.pull_through_prefixes : "arn:aws:ecr:${var.region}:${var.account_id}:repository/${p}/*"]
  }
}

resource "aws_iam_role_policy" "pull_through_cache" {
  for_each = var.node_role_names
  name     = "pull-through-cache"
  role     = each.value
  policy   = data.aws_iam_policy_document.pull_through_cache.json
}
