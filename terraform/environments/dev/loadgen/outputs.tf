output "task_definition_arn" {
  description = "loadgen task definition, for ECS RunTask."
  value       = module.loadgen.task_definition_arn
}

output "results_bucket" {
  description = "S3 bucket for each generator's hlog and report."
  value       = module.loadgen.results_bucket
}

output "cluster_name" {
  description = "ECS cluster the loadgen tasks run in."
  value       = data.terraform_remote_state.compute.outputs.cluster_name
}

output "log_group" {
  description = "Log group of the loadgen tasks."
  value       = module.loadgen.log_group
}
