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
