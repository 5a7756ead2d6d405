output "log_group" {
  description = "Log group of the canary."
  value       = module.canary.log_group
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the canary's metrics."
  value       = module.canary.metrics_namespace
}

output "schedule_name" {
  description = "EventBridge Scheduler schedule running the canary."
  value       = module.canary.schedule_name
}

output "task_definition_arn" {
  description = "Canary task definition."
  value       = module.canary.task_definition_arn
}

output "target_host" {
  description = "Host name of the gateway URL the canary probes (the Host dimension of its certificate metric)."
  value       = module.canary.target_host
}
