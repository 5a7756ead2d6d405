output "execution_role_arn" {
  description = "ARN of the execution role (task definition's execution_role_arn)."
  value       = aws_iam_role.execution.arn
  # A task definition that uses the role waits for its secrets policy: a new secret must be
  # readable before the first task that injects it starts.
  depends_on = [aws_iam_role_policy.execution_secrets]
}

output "task_role_arn" {
  description = "ARN of the task role (task definition's task_role_arn)."
  value       = aws_iam_role.task.arn
}

output "task_role_id" {
  description = "Name-id of the task role, for attaching the task's own inline policy."
  value       = aws_iam_role.task.id
}
