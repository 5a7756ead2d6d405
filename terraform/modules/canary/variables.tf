variable "name_prefix" {
  description = "Prefix of every resource name, e.g. sum-api-dev."
  type        = string
}

variable "environment" {
  description = "Environment name: the canary's Environment dimension (CANARY_ENVIRONMENT)."
  type        = string
}

variable "cluster_arn" {
  description = "ECS cluster the canary runs in (compute stack)."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets for the canary task (networking stack)."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the canary task: no inbound, HTTPS out (networking stack)."
  type        = string
}

variable "image" {
  description = "Canary image, repository URL and tag."
  type        = string
}

variable "target_url" {
  description = "Base URL the canary probes: the gateway's public URL, never the ALB (the probes check the gateway's policy)."
  type        = string
  validation {
    condition     = startswith(var.target_url, "https://")
    error_message = "target_url must be the gateway's https:// URL."
  }
}

variable "api_key_secret_arn" {
  description = "Secrets Manager ARN of the canary consumer's API key (secrets stack), injected as CANARY_API_KEY."
  type        = string
}

variable "secrets_kms_key_arn" {
  description = "KMS key of the secrets (secrets stack)."
  type        = string
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the canary's metrics; the task role may publish only there."
  type        = string
  default     = "SumApi/Canary"
  validation {
    condition     = !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be a namespace of our own, never AWS/...."
  }
}

variable "schedule_expression" {
  description = "How often the canary runs. The dead-man alarm's period (alarms/cloudwatch.yaml) must be at least this interval."
  type        = string
  default     = "rate(1 minute)"
}

variable "cpu" {
  description = "Task CPU units."
  type        = number
  default     = 256
}

variable "memory" {
  description = "Task memory, MiB."
  type        = number
  default     = 512
}

variable "log_retention_days" {
  description = "Retention of the canary's log group, in days."
  type        = number
  default     = 30
}

variable "rate_limit_per_minute" {
  description = "The canary consumer's per-minute limit at the gateway (from gateway/kong.yaml); the canary checks RateLimit-Limit against it. null: not checked."
  type        = number
  default     = null
}
