output "task_definition_arn" {
  description = "loadgen task definition, for ECS RunTask."
  value       = aws_ecs_task_definition.loadgen.arn
}

output "results_bucket" {
  description = "S3 bucket receiving each generator's hlog and report under runs/<run id>/."
  value       = aws_s3_bucket.results.bucket
}

output "log_group" {
  description = "Log group the loadgen tasks write to."
  value       = aws_cloudwatch_log_group.loadgen.name
}
