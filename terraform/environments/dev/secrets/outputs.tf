output "secret_arns" {
  description = "ARN of each secret: origin-secret, canary-api-key, loadgen-api-key, example-customer-api-key, release-check-api-key."
  value       = module.secrets.secret_arns
}

output "kms_key_arn" {
  description = "KMS key of the secrets."
  value       = module.secrets.kms_key_arn
}
