output "vpc_id" {
  description = "VPC id."
  value       = aws_vpc.this.id
}

output "public_subnet_ids" {
  description = "Public subnets (load balancer, NAT), one per AZ."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets (nodes), one per AZ."
  value       = aws_subnet.private[*].id
}

output "s3_endpoint_id" {
  description = "S3 gateway endpoint of the private subnets."
  value       = aws_vpc_endpoint.s3.id
}
