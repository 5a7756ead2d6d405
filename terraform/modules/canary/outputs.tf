output "log_group" {
  description = "Log group the canary writes to."
  value       = aws_cloudwatch_log_group.canary.name
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the canary's metrics."
  value       = var.metrics_namespace
}

output "regions" {
  description = "The regions the canary runs in, in the order given: the Region dimension of its metrics, which the observability stack's per-region alarms read."
  value       = var.regions
}

output "task_definition_arns" {
  description = "Canary task definition by region (run one by hand with aws ecs run-task --region to debug)."
  value       = { for r, td in aws_ecs_task_definition.canary : r => td.arn }
}

output "schedule_names" {
  description = "EventBridge Scheduler schedule that runs the canary, by region."
  value       = { for r, s in aws_scheduler_schedule.canary : r => s.name }
}

output "schedule_dlq_urls" {
  description = "Dead-letter queue of schedule invocations that could not start the task, by region."
  value       = { for r, q in aws_sqs_queue.schedule_dlq : r => q.url }
}

output "target_host" {
  description = "Host name of target_url: the Host dimension of the canary's CertificateDaysRemaining, which the certificate alarms read."
  value       = lower(regex("^https://([^/:?#]+)", var.target_url)[0])
}
