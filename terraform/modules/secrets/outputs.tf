output "secret_arns" {
  description = "ARN of each secret, by name: origin-secret, origin-secret-alt, canary-api-key, loadgen-api-key, example-customer-api-key, release-check-api-key."
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.arn }
}

output "kms_key_arn" {
  description = "KMS key encrypting the secrets; task execution roles need kms:Decrypt on it."
  value       = aws_kms_key.secrets.arn
}
