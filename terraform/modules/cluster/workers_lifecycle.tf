# Workers join by themselves and are drained before they go.
#
# Join: the control plane keeps a fresh kubeadm join command (bootstrap token with a 2-hour TTL +
# discovery CA hash) in the SecureString parameter /<name>/kubeadm/join, rewritten every 30
# minutes by a systemd timer (ansible/roles/kubeadm_control_plane). Its key lets the control
# plane encrypt and the workers decrypt, and nobody else (not even the account's administrators)
# decrypt. A new worker's user-data (templates/worker-first-boot.sh.tftpl) runs the same Ansible
# roles as site.yml locally, from the bundle site.yml publishes to the node-binaries bucket, and
# joins with it.
#
# Drain: a lifecycle hook holds a terminating worker; EventBridge sends the drain document to
# the control plane, whose script (same role) cordons and drains the node labelled with the
# instance id, deletes the Node and completes the lifecycle action. If anything fails, the hook
# times out and the termination continues.
locals {
  join_parameter        = "/${var.name}/kubeadm/join"
  join_parameter_arn    = "arn:aws:ssm:${var.region}:${var.account_id}:parameter${local.join_parameter}"
  node_bundle_parameter = "/${var.name}/node-binaries/node-bundle/sha256"
  # Checksums CI and site.yml record for what the nodes download (the bundle's included).
  node_binary_parameters_arn = "arn:aws:ssm:${var.region}:${var.account_id}:parameter/${var.name}/node-binaries/*"
  drain_hook_name            = "${var.name}-drain"
  drain_timeout_seconds      = 600
}

# ---------------------------------------------------------------- join credential
resource "aws_kms_key" "kubeadm_join" {
  description         = "${var.name} kubeadm join credential (SSM ${local.join_parameter})"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # Administration without kms:Decrypt: the join credential is readable by workers only.
        Sid       = "AccountAdministration"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${var.account_id}:root" }
        Action = [
          "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
          "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
          "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
        ]
        Resource = "*"
      },
      {
        Sid       = "ControlPlaneWritesTheJoinParameter"
        Effect    = "Allow"
        Principal = { AWS = aws_iam_role.control_plane.arn }
        Action    = ["kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
        Resource  = "*"
        Condition = {
          StringEquals = {
            "kms:EncryptionContext:PARAMETER_ARN" = local.join_parameter_arn
            "kms:ViaService"                      = "ssm.${var.region}.amazonaws.com"
          }
        }
      },
      {
        Sid       = "WorkersReadTheJoinParameter"
        Effect    = "Allow"
        Principal = { AWS = aws_iam_role.worker.arn }
        Action    = "kms:Decrypt"
        Resource  = "*"
        Condition = {
          StringEquals = {
            "kms:EncryptionContext:PARAMETER_ARN" = local.join_parameter_arn
            "kms:ViaService"                      = "ssm.${var.region}.amazonaws.com"
          }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "kubeadm_join" {
  name          = "alias/${var.name}-kubeadm-join"
  target_key_id = aws_kms_key.kubeadm_join.key_id
}

# The parameter itself is created and rewritten by the control plane (SecureString with this
# key): Terraform never holds the token, and could not read it back (no kms:Decrypt).
data "aws_iam_policy_document" "worker_join" {
  statement {
    sid       = "ReadTheJoinCredentialAndNodeChecksums"
    actions   = ["ssm:GetParameter"]
    resources = [local.join_parameter_arn, local.node_binary_parameters_arn]
  }
}

resource "aws_iam_role_policy" "worker_join" {
  name   = "join-cluster"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker_join.json
}

data "aws_iam_policy_document" "control_plane_lifecycle" {
  statement {
    sid       = "PublishTheJoinCredential"
    actions   = ["ssm:PutParameter"]
    resources = [local.join_parameter_arn]
  }
  statement {
    sid       = "LetDrainedWorkersGo"
    actions   = ["autoscaling:CompleteLifecycleAction"]
    resources = [aws_autoscaling_group.workers.arn]
  }
}

resource "aws_iam_role_policy" "control_plane_lifecycle" {
  name   = "worker-lifecycle"
  role   = aws_iam_role.control_plane.id
  policy = data.aws_iam_policy_document.control_plane_lifecycle.json
}

# ---------------------------------------------------------------- drain on termination
resource "aws_autoscaling_lifecycle_hook" "drain" {
  name                   = local.drain_hook_name
  autoscaling_group_name = aws_autoscaling_group.workers.name
  lifecycle_transition   = "autoscaling:EC2_INSTANCE_TERMINATING"
  # The drain's own timeout plus room for cordon, Node deletion and the SSM round trip; then the
  # termination goes on whatever happened.
  heartbeat_timeout = local.drain_timeout_seconds + 300
  default_result    = "CONTINUE"
}

resource "aws_ssm_document" "drain" {
  name            = "${var.name}-drain-worker"
  document_type   = "Command"
  document_format = "YAML"
  content = yamlencode({
    schemaVersion = "2.2"
    description   = "Drain the worker an Auto Scaling lifecycle hook is terminating, delete its Node, complete the action."
    parameters = {
      InstanceId = {
        type           = "String"
        description    = "The terminating worker (EventBridge: $.detail.EC2InstanceId)."
        allowedPattern = "^i-[0-9a-f]{8,17}$"
      }
    }
    mainSteps = [{
      action = "aws:runShellScript"
      name   = "drain"
      inputs = {
        timeoutSeconds = tostring(local.drain_timeout_seconds + 240)
        runCommand = [
          "set -eu",
          "/usr/local/sbin/shop-drain-node --instance-id '{{ InstanceId }}' --auto-scaling-group '${aws_autoscaling_group.workers.name}' --hook '${local.drain_hook_name}' --timeout ${local.drain_timeout_seconds}",
        ]
      }
    }]
  })
}

resource "aws_cloudwatch_event_rule" "worker_terminating" {
  name        = "${var.name}-worker-terminating"
  description = "A worker of ${aws_autoscaling_group.workers.name} waits in its termination lifecycle hook"
  event_pattern = jsonencode({
    source        = ["aws.autoscaling"]
    "detail-type" = ["EC2 Instance-terminate Lifecycle Action"]
    detail = {
      AutoScalingGroupName = [aws_autoscaling_group.workers.name]
      LifecycleHookName    = [local.drain_hook_name]
    }
  })
}

data "aws_iam_policy_document" "events_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

resource "aws_iam_role" "drain_events" {
  name               = "${var.name}-drain-events"
  assume_role_policy = data.aws_iam_policy_document.events_assume.json
}

# SendCommand is authorised against the document and the instance: this one on that one.
data "aws_iam_policy_document" "drain_events" {
  statement {
    sid       = "RunTheDrainDocumentOnTheControlPlane"
    actions   = ["ssm:SendCommand"]
    resources = [aws_ssm_document.drain.arn, aws_instance.control_plane.arn]
  }
}

resource "aws_iam_role_policy" "drain_events" {
  name   = "send-drain-document"
  role   = aws_iam_role.drain_events.id
  policy = data.aws_iam_policy_document.drain_events.json
}

# Run Command target: the input is the document's parameters, each a list of strings. The
# template is a literal string, not jsonencode(): jsonencode escapes < and > (\u003c), and the
# placeholder would no longer be one.
resource "aws_cloudwatch_event_target" "drain" {
  rule     = aws_cloudwatch_event_rule.worker_terminating.name
  arn      = aws_ssm_document.drain.arn
  role_arn = aws_iam_role.drain_events.arn

  run_command_targets {
    key    = "InstanceIds"
    values = [aws_instance.control_plane.id]
  }

  input_transformer {
    input_paths = {
      instance = "$.detail.EC2InstanceId"
    }
    input_template = "{\"InstanceId\":[\"<instance>\"]}"
  }
}
