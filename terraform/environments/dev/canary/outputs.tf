output "log_group" {
  description = "Log group of the canary."
  value       = module.canary.log_group
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the canary's metrics."
  value       = module.canary.metrics_namespace
}

output "regions" {
  description = "Regions the canary runs in (the observability stack's per-region alarms read them)."
  value       = module.canary.regions
}

output "schedule_names" {
  description = "EventBridge Scheduler schedule running the canary, by region."
  value       = module.canary.schedule_names
}

output "task_definition_arns" {
  description = "Canary task definition, by region."
  value       = module.canary.task_definition_arns
}

output "target_host" {
  description = "Host name of the gateway URL the canary probes (the Host dimension of its certificate metric)."
  value       = module.canary.target_host
}
