variable "name_prefix" {
  description = "Prefix of every resource name, e.g. sum-api-dev."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the service (networking stack)."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets for the ALB, in at least two AZs."
  type        = list(string)
  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "The ALB needs subnets in at least two AZs."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets for the tasks, in at least two AZs."
  type        = list(string)
  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "The service's tasks must be spread over at least two AZs."
  }
}

variable "alb_security_group_id" {
  description = "Security group of the ALB (networking stack)."
  type        = string
}

variable "service_security_group_id" {
  description = "Security group of the service's tasks (networking stack)."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate of the ALB's HTTPS listener."
  type        = string
}

variable "image_tag" {
  description = "Tag of the service image in its ECR repository (the release's version; tags are immutable)."
  type        = string
}

variable "container_port" {
  description = "Port of the service's public listener (SERVICE_LISTEN)."
  type        = number
  default     = 8080
}

variable "metrics_port" {
  description = "Port of the service's Prometheus listener (SERVICE_METRICS_LISTEN)."
  type        = number
  default     = 9090
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

variable "desired_count" {
  description = "Tasks at first deploy; autoscaling moves it between min_count and max_count afterwards."
  type        = number
  default     = 2
}

variable "min_count" {
  description = "Fewest tasks (at least 2, so that one AZ or one task can fail)."
  type        = number
  default     = 2
  validation {
    condition     = var.min_count >= 2
    error_message = "min_count must be at least 2: one task per AZ."
  }
}

variable "max_count" {
  description = "Most tasks autoscaling may run."
  type        = number
  default     = 8
}

variable "cpu_target_percent" {
  description = "Autoscaling target for the tasks' average CPU."
  type        = number
  default     = 60
}

variable "requests_per_target" {
  description = "Autoscaling target for ALB requests per task per minute (ALBRequestCountPerTarget). Measure it, never guess it: `loadgen capacity` against one task reports it as autoscaling.alb_request_count_per_target (that task's capacity under the SLOs x headroom x 60; docs/loadgen.md, The autoscaling target)."
  type        = number
  default     = 3000
}

variable "shutdown_drain_seconds" {
  description = "SERVICE_SHUTDOWN_DRAIN: seconds the service keeps serving with readiness 503 after SIGTERM."
  type        = number
  default     = 5
}

variable "shutdown_timeout_seconds" {
  description = "SERVICE_SHUTDOWN_TIMEOUT: seconds in-flight requests may take after the drain."
  type        = number
  default     = 15
}

variable "origin_secret_arn" {
  description = "Secrets Manager ARN of the origin secret (secrets stack), injected as SERVICE_ORIGIN_SECRET."
  type        = string
}

variable "origin_secret_alt_arn" {
  description = "Secrets Manager ARN of the second origin secret (secrets stack), injected as SERVICE_ORIGIN_SECRET_ALT: the service accepts both, so the one the gateway does not send can be rotated without refusing a request. null (a secrets stack from before the entry existed) injects only the first."
  type        = string
  default     = null
}

variable "secrets_kms_key_arn" {
  description = "KMS key of the secrets (secrets stack)."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the service's log group, in days."
  type        = number
  default     = 30
}

variable "deletion_protection" {
  description = "Protect the ALB from deletion (turn off only to destroy the stack)."
  type        = bool
  default     = true
}

variable "access_logs_bucket" {
  description = "S3 bucket for ALB access logs (an existing, organisation-wide log bucket); empty disables them."
  type        = string
  default     = ""
}

variable "deployment_alarm_names" {
  description = "CloudWatch metric alarms a deployment watches: one in ALARM fails the deployment and rolls it back (the SLO page burns, module slo-deployment-alarms). Empty watches none."
  type        = list(string)
  default     = []
}
