# Public entry: Application Load Balancer in the public subnets, TLS with an ACM certificate,
# HTTP redirected to HTTPS, AWS WAF managed rules, access logs in S3. It forwards plain HTTP
# to the Istio ingress gateway's NodePort on every worker (private subnets).
data "aws_elb_service_account" "this" {}

module "alb_logs" {
  source = "../sse-s3-bucket"

  # ELB access log delivery supports SSE-S3 only, not SSE-KMS.
  bucket            = "${var.name}-alb-logs-${var.account_id}"
  policy_json       = data.aws_iam_policy_document.alb_logs.json
  lifecycle_rule_id = "expire-access-logs"
  expiration_days   = 400
  noncurrent_days   = 30
}

data "aws_iam_policy_document" "alb_logs" {
  statement {
    sid       = "ElbLogDelivery"
    actions   = ["s3:PutObject"]
    resources = ["arn:aws:s3:::${var.name}-alb-logs-${var.account_id}/alb/AWSLogs/${var.account_id}/*"]
    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.this.arn]
    }
  }
}

resource "aws_lb" "public" {
  name                       = "${var.name}-public"
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = var.public_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = true

  access_logs {
    bucket  = module.alb_logs.id
    prefix  = "alb"
    enabled = true
  }

  depends_on = [module.alb_logs]
}

resource "aws_lb_target_group" "ingress" {
  name     = "${var.name}-ingress"
  port     = var.ingress_node_ports.http
  protocol = "HTTP"
  vpc_id   = var.vpc_id

  # The gateway's readiness endpoint (status port 15021 exposed as a NodePort).
  health_check {
    protocol            = "HTTP"
    port                = tostring(var.ingress_node_ports.status)
    path                = "/healthz/ready"
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_acm_certificate" "shop" {
  domain_name       = var.domain_name
  validation_method = "DNS"

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "validation" {
  for_each = {
    for dvo in aws_acm_certificate.shop.domain_validation_options : dvo.domain_name => {
      name   = dvo.resource_record_name
      record = dvo.resource_record_value
      type   = dvo.resource_record_type
    }
  }
  zone_id         = var.route53_zone_id
  name            = each.value.name
  type            = each.value.type
  records         = [each.value.record]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "shop" {
  certificate_arn         = aws_acm_certificate.shop.arn
  validation_record_fqdns = [for r in aws_route53_record.validation : r.fqdn]
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.public.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = aws_acm_certificate_validation.shop.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.ingress.arn
  }
}

resource "aws_lb_listener" "http_redirect" {
  load_balancer_arn = aws_lb.public.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_route53_record" "shop" {
  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = aws_lb.public.dns_name
    zone_id                = aws_lb.public.zone_id
    evaluate_target_health = true
  }
}

# ---------------------------------------------------------------- WAF
resource "aws_wafv2_web_acl" "shop" {
  name  = "${var.name}-public"
  scope = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "aws-common"
    priority = 1
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesCommonRuleSet"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "aws-common"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "aws-known-bad-inputs"
    priority = 2
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "aws-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  # Counted, not blocked: shoppers behind VPNs and corporate proxies must still get through.
  rule {
    name     = "aws-anonymous-ip"
    priority = 3
    override_action {
      count {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesAnonymousIpList"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "aws-anonymous-ip"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "rate-limit-per-ip"
    priority = 4
    action {
      block {}
    }
    statement {
      rate_based_statement {
        limit              = 2000
        aggregate_key_type = "IP"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "rate-limit-per-ip"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name}-public"
    sampled_requests_enabled   = true
  }
}

resource "aws_wafv2_web_acl_association" "shop" {
  resource_arn = aws_lb.public.arn
  web_acl_arn  = aws_wafv2_web_acl.shop.arn
}

module "waf_logs" {
  source = "../log-group"

  # WAF requires the aws-waf-logs- prefix.
  log_group_name    = "aws-waf-logs-${var.name}"
  description       = "${var.name} WAF logs"
  retention_in_days = 365
  account_id        = var.account_id
  region            = var.region
}

moved {
  from = aws_kms_key.waf_logs
  to   = module.waf_logs.aws_kms_key.this
}

moved {
  from = aws_cloudwatch_log_group.waf
  to   = module.waf_logs.aws_cloudwatch_log_group.this
}

resource "aws_wafv2_web_acl_logging_configuration" "shop" {
  resource_arn            = aws_wafv2_web_acl.shop.arn
  log_destination_configs = [module.waf_logs.arn]
}

moved {
  from = aws_s3_bucket.alb_logs
  to   = module.alb_logs.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.alb_logs
  to   = module.alb_logs.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.alb_logs
  to   = module.alb_logs.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_versioning.alb_logs
  to   = module.alb_logs.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.alb_logs
  to   = module.alb_logs.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.alb_logs
  to   = module.alb_logs.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_policy.alb_logs
  to   = module.alb_logs.aws_s3_bucket_policy.this
}
