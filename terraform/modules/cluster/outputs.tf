output "control_plane_instance_id" {
  description = "Control-plane instance id."
  value       = aws_instance.control_plane.id
}

output "control_plane_instance_arn" {
  description = "Control-plane instance ARN."
  value       = aws_instance.control_plane.arn
}

output "control_plane_private_ip" {
  description = "Control-plane private IP."
  value       = aws_instance.control_plane.private_ip
}

output "worker_asg_name" {
  description = "Worker autoscaling group."
  value       = aws_autoscaling_group.workers.name
}

output "pod_cidr" {
  description = "Pod network."
  value       = var.pod_cidr
}

output "alb_dns_name" {
  description = "Load balancer DNS name."
  value       = aws_lb.public.dns_name
}

output "ebs_kms_key_arn" {
  description = "EBS KMS key."
  value       = aws_kms_key.ebs.arn
}

output "worker_security_group_id" {
  description = "Security group of the workers (clients of the managed stores)."
  value       = aws_security_group.worker.id
}

output "control_plane_security_group_id" {
  description = "Security group of the control plane (creates the database roles)."
  value       = aws_security_group.control_plane.id
}

output "node_role_names" {
  description = "IAM roles of the nodes by key (the registry module lets them pull through its cache rules)."
  value       = { control_plane = aws_iam_role.control_plane.name, worker = aws_iam_role.worker.name }
}

output "join_parameter_name" {
  description = "SSM SecureString the control plane keeps a fresh kubeadm join command in."
  value       = local.join_parameter
}

output "drain_document_name" {
  description = "SSM document that drains a terminating worker (sent by EventBridge)."
  value       = aws_ssm_document.drain.name
}
