variable "name_prefix" {
  description = "Prefix of every resource name, e.g. sum-api-dev."
  type        = string
}

variable "image" {
  description = "loadgen image, repository URL and tag."
  type        = string
}

variable "api_key_secret_arn" {
  description = "Secrets Manager ARN of the loadgen consumer's API key (secrets stack), injected as LOADGEN_API_KEY."
  type        = string
}

variable "secrets_kms_key_arn" {
  description = "KMS key of the secrets (secrets stack)."
  type        = string
}

variable "cpu" {
  description = "Task CPU units of one generator (the open-model schedule needs a whole core)."
  type        = number
  default     = 1024
}

variable "memory" {
  description = "Task memory of one generator, MiB."
  type        = number
  default     = 2048
}

variable "results_retention_days" {
  description = "Days the results (hlogs, reports) are kept in the bucket."
  type        = number
  default     = 180
}

variable "log_retention_days" {
  description = "Retention of the loadgen log group, in days."
  type        = number
  default     = 30
}
