# kubeadm nodes: one control plane and an autoscaling group of workers, all in private subnets,
# Ubuntu 24.04 LTS, reached only through SSM Session Manager (Ansible: SSH over SSM).
locals {
  ubuntu_arch = var.architecture == "x86_64" ? "amd64" : "arm64"
  node_tags = {
    Project     = var.project
    Environment = var.environment
  }
}

data "aws_ssm_parameter" "ubuntu_ami" {
  name = "/aws/service/canonical/ubuntu/server/24.04/stable/current/${local.ubuntu_arch}/hvm/ebs-gp3/ami-id"
}

resource "aws_key_pair" "ansible" {
  key_name   = "${var.name}-ansible"
  public_key = var.ssh_public_key
}

# ---------------------------------------------------------------- EBS encryption key
# Auto Scaling's service-linked role, created by ../../bootstrap: read here so that a plan fails
# clearly, and before the key, when it is missing (a key policy naming it would be refused).
data "aws_iam_role" "autoscaling" {
  name = "AWSServiceRoleForAutoScaling"
}

# Usable by the account, by Auto Scaling's service-linked role (encrypted root volumes of
# launched workers) and through grants by EC2 (the EBS CSI driver's volumes).
resource "aws_kms_key" "ebs" {
  description         = "${var.name} EBS volumes"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministration"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${var.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "AutoScalingUse"
        Effect    = "Allow"
        Principal = { AWS = data.aws_iam_role.autoscaling.arn }
        Action    = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
        Resource  = "*"
      },
      {
        Sid       = "AutoScalingGrants"
        Effect    = "Allow"
        Principal = { AWS = data.aws_iam_role.autoscaling.arn }
        Action    = "kms:CreateGrant"
        Resource  = "*"
        Condition = { Bool = { "kms:GrantIsForAWSResource" = "true" } }
      },
    ]
  })
}

resource "aws_kms_alias" "ebs" {
  name          = "alias/${var.name}-ebs"
  target_key_id = aws_kms_key.ebs.key_id
}

# ---------------------------------------------------------------- IAM
data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

# Pull the shop's artifact (kubelet's ecr-credential-provider) and nothing else from ECR.
data "aws_iam_policy_document" "ecr_pull" {
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid       = "PullShop"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [var.ecr_repository_arn]
  }
  statement {
    sid       = "RepositoryKey"
    actions   = ["kms:Decrypt"]
    resources = [var.ecr_kms_key_arn]
  }
}

resource "aws_iam_role" "control_plane" {
  name               = "${var.name}-control-plane"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_role" "worker" {
  name               = "${var.name}-worker"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_role_policy_attachment" "ssm" {
  for_each   = { control_plane = aws_iam_role.control_plane.name, worker = aws_iam_role.worker.name }
  role       = each.value
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_role_policy" "ecr_pull" {
  for_each = { control_plane = aws_iam_role.control_plane.id, worker = aws_iam_role.worker.id }
  name     = "pull-shop-artifact"
  role     = each.value
  policy   = data.aws_iam_policy_document.ecr_pull.json
}

# The EBS CSI controller (ansible/roles/storage) runs on the control plane, the only node whose
# pods can reach IMDS (hop limit 2; Calico's imds-guard tier lets only this controller), and uses
# its role. The workers' role cannot manage volumes: the node plugin on a worker (host network)
# reads only its instance id and zone from IMDS and makes no EBS API calls.
resource "aws_iam_role_policy_attachment" "control_plane_ebs_csi" {
  role       = aws_iam_role.control_plane.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
}

data "aws_iam_policy_document" "ebs_csi_kms" {
  statement {
    sid       = "EncryptPersistentVolumes"
    actions   = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
    resources = [aws_kms_key.ebs.arn]
    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }
  statement {
    sid       = "UsePersistentVolumeKey"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = [aws_kms_key.ebs.arn]
  }
}

resource "aws_iam_role_policy" "control_plane_ebs_csi_kms" {
  name   = "ebs-csi-kms"
  role   = aws_iam_role.control_plane.id
  policy = data.aws_iam_policy_document.ebs_csi_kms.json
}

resource "aws_iam_instance_profile" "control_plane" {
  name = "${var.name}-control-plane"
  role = aws_iam_role.control_plane.name
}

resource "aws_iam_instance_profile" "worker" {
  name = "${var.name}-worker"
  role = aws_iam_role.worker.name
}

# ---------------------------------------------------------------- control plane
resource "aws_instance" "control_plane" {
  #checkov:skip=CKV_AWS_341:Hop limit 2 for the EBS CSI controller pod only; a Calico tier before default (ansible/roles/calico, files/imds-guard.yaml) denies IMDS to every other pod (workers have hop limit 1)
  ami                     = data.aws_ssm_parameter.ubuntu_ami.insecure_value
  instance_type           = var.control_plane_instance_type
  subnet_id               = var.private_subnet_ids[0]
  vpc_security_group_ids  = [aws_security_group.control_plane.id]
  iam_instance_profile    = aws_iam_instance_profile.control_plane.name
  key_name                = aws_key_pair.ansible.key_name
  monitoring              = true
  ebs_optimized           = true
  disable_api_termination = true

  # Hop limit 2: the EBS CSI controller (a pod, tolerating the control-plane taint) takes this
  # role's credentials from IMDSv2. The other pods here (CoreDNS, calico-kube-controllers,
  # ztunnel, ...) would reach them too: the Calico tier `imds-guard` (ansible/roles/calico,
  # ordered before `default`) denies 169.254.169.254 to every pod but the EBS CSI controller's
  # (checked by infra-tests/lib/check_nodes.py). Workers, where the shop and the ingress gateway
  # run, keep hop limit 1.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 2
    instance_metadata_tags      = "enabled"
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.root_volume_size_gb
    encrypted             = true
    kms_key_id            = aws_kms_key.ebs.arn
    delete_on_termination = true
  }

  tags = merge(local.node_tags, {
    Name = "${var.name}-control-plane"
    Role = "control-plane"
  })

  lifecycle {
    # A new Ubuntu AMI must not replace the control plane: nodes are patched by Ansible.
    ignore_changes = [ami]
  }
}

# ---------------------------------------------------------------- workers
resource "aws_launch_template" "worker" {
  name_prefix            = "${var.name}-worker-"
  image_id               = data.aws_ssm_parameter.ubuntu_ami.insecure_value
  instance_type          = var.worker_instance_type
  key_name               = aws_key_pair.ansible.key_name
  ebs_optimized          = true
  update_default_version = true
  vpc_security_group_ids = [aws_security_group.worker.id]

  iam_instance_profile {
    arn = aws_iam_instance_profile.worker.arn
  }

  monitoring {
    enabled = true
  }

  # Hop limit 1: IMDSv2 answers the node's own processes (kubelet's ECR credential provider,
  # the first-boot join) but not pods, so no pod - the ingress gateway included - gets this
  # role's credentials.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "enabled"
  }

  # First boot: run the worker roles locally from the bundle site.yml publishes and join with
  # the short-lived credential the control plane keeps in SSM (workers_lifecycle.tf).
  user_data = base64encode(templatefile("${path.module}/templates/worker-first-boot.sh.tftpl", {
    name                 = var.name
    region               = var.region
    node_binaries_bucket = var.node_binaries_bucket
    control_plane_ip     = aws_instance.control_plane.private_ip
    bundle_parameter     = local.node_bundle_parameter
    join_parameter       = local.join_parameter
  }))

  block_device_mappings {
    device_name = "/dev/sda1"
    ebs {
      volume_type           = "gp3"
      volume_size           = var.root_volume_size_gb
      encrypted             = true
      kms_key_id            = aws_kms_key.ebs.arn
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags = merge(local.node_tags, {
      Name = "${var.name}-worker"
      Role = "worker"
    })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(local.node_tags, { Name = "${var.name}-worker" })
  }
}

resource "aws_autoscaling_group" "workers" {
  name                      = "${var.name}-workers"
  vpc_zone_identifier       = var.private_subnet_ids
  min_size                  = var.worker_count.min
  desired_capacity          = var.worker_count.desired
  max_size                  = var.worker_count.max
  health_check_type         = "EC2"
  health_check_grace_period = 300
  target_group_arns         = [aws_lb_target_group.ingress.arn]
  termination_policies      = ["OldestLaunchTemplate", "OldestInstance"]

  launch_template {
    id      = aws_launch_template.worker.id
    version = aws_launch_template.worker.latest_version
  }

  tag {
    key                 = "Project"
    value               = var.project
    propagate_at_launch = true
  }

  tag {
    key                 = "Environment"
    value               = var.environment
    propagate_at_launch = true
  }

  tag {
    key                 = "Role"
    value               = "worker"
    propagate_at_launch = true
  }

  lifecycle {
    # The cluster autoscaler or an operator may change the desired size.
    ignore_changes = [desired_capacity]
  }
}
