variable "name" {
  description = "Prefix of the two role names, e.g. sum-api-dev-canary (gives -execution and -task)."
  type        = string
}

variable "secret_arns" {
  description = "Secrets Manager ARNs the task definition injects as container secrets."
  type        = list(string)
}

variable "secrets_kms_key_arn" {
  description = "KMS key that encrypts those secrets."
  type        = string
}

variable "secrets_policy_name" {
  description = "Name of the inline policy that lets the execution role read the secrets."
  type        = string
}
