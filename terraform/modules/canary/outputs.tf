output "log_group" {
  description = "Log group the canary writes to."
  value       = aws_cloudwatch_log_group.canary.name
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the canary's metrics."
  value       = var.metrics_namespace
}

output "task_definition_arn" {
  description = "Canary task definition (run it by hand with aws ecs run-task to debug)."
  value       = aws_ecs_task_definition.canary.arn
}

output "schedule_name" {
  description = "EventBridge Scheduler schedule that runs the canary."
  value       = aws_scheduler_schedule.canary.name
}

output "schedule_dlq_url" {
  description = "Dead-letter queue of schedule invocations that could not start the task."
  value       = aws_sqs_queue.schedule_dlq.url
}

output "target_host" {
  description = "Host name of target_url: the Host dimension of the canary's CertificateDaysRemaining, which the certificate alarms read."
  value       = lower(regex("^https://([^/:?#]+)", var.target_url)[0])
}
