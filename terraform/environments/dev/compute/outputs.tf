output "alb_arn_suffix" {
  description = "The ALB's arn_suffix: the LoadBalancer dimension of its metrics."
  value       = module.compute.alb_arn_suffix
}

output "target_group_arn_suffix" {
  description = "The target group's arn_suffix: the TargetGroup dimension of its metrics."
  value       = module.compute.target_group_arn_suffix
}

output "alb_dns_name" {
  description = "DNS name of the ALB: the gateway's upstream host."
  value       = module.compute.alb_dns_name
}

output "cluster_name" {
  description = "ECS cluster."
  value       = module.compute.cluster_name
}

output "cluster_arn" {
  description = "ECS cluster ARN."
  value       = module.compute.cluster_arn
}

output "service_name" {
  description = "ECS service of the sum API."
  value       = module.compute.service_name
}

output "service_log_group" {
  description = "Log group of the service."
  value       = module.compute.service_log_group
}

output "repository_urls" {
  description = "ECR repository URL per image: service, canary, loadgen."
  value       = module.compute.repository_urls
}
