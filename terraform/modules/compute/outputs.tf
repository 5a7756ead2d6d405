output "alb_arn_suffix" {
  description = "The ALB's arn_suffix (app/<name>/<id>): the LoadBalancer dimension of its CloudWatch metrics."
  value       = aws_lb.this.arn_suffix
}

output "target_group_arn_suffix" {
  description = "The target group's arn_suffix (targetgroup/<name>/<id>): the TargetGroup dimension."
  value       = aws_lb_target_group.service.arn_suffix
}

output "alb_dns_name" {
  description = "DNS name of the ALB: the gateway's upstream."
  value       = aws_lb.this.dns_name
}

output "cluster_name" {
  description = "ECS cluster (also runs the canary and loadgen tasks)."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ECS cluster ARN."
  value       = aws_ecs_cluster.this.arn
}

output "service_name" {
  description = "ECS service of the sum API."
  value       = aws_ecs_service.this.name
}

output "service_log_group" {
  description = "Log group the service writes to."
  value       = aws_cloudwatch_log_group.service.name
}

output "repository_urls" {
  description = "ECR repository URL of each image: service, canary, loadgen."
  value       = { for k, r in aws_ecr_repository.this : k => r.repository_url }
}
