output "vpc_id" {
  description = "The VPC's id."
  value       = aws_vpc.this.id
}

output "public_subnet_ids" {
  description = "Public subnets (ALB, NAT), one per AZ."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets (every task), one per AZ."
  value       = aws_subnet.private[*].id
}

output "alb_security_group_id" {
  description = "Security group of the ALB."
  value       = aws_security_group.alb.id
}

output "service_security_group_id" {
  description = "Security group of the service's tasks."
  value       = aws_security_group.service.id
}

output "probe_security_group_id" {
  description = "Security group of the canary and loadgen tasks."
  value       = aws_security_group.probe.id
}
