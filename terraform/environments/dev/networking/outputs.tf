output "vpc_id" {
  description = "The VPC's id."
  value       = module.networking.vpc_id
}

output "public_subnet_ids" {
  description = "Public subnets (ALB, NAT), one per AZ."
  value       = module.networking.public_subnet_ids
}

output "private_subnet_ids" {
  description = "Private subnets (tasks), one per AZ."
  value       = module.networking.private_subnet_ids
}

output "alb_security_group_id" {
  description = "Security group of the ALB."
  value       = module.networking.alb_security_group_id
}

output "service_security_group_id" {
  description = "Security group of the service's tasks."
  value       = module.networking.service_security_group_id
}

output "probe_security_group_id" {
  description = "Security group of the canary and loadgen tasks."
  value       = module.networking.probe_security_group_id
}
