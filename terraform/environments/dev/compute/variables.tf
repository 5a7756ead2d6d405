variable "region" {
  description = "AWS region of the environment."
  type        = string
  default     = "eu-west-1"
}

variable "environment" {
  description = "Environment name (dev, staging, prod): part of every name and the canary's Environment dimension."
  type        = string
  default     = "dev"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment must be 2-16 lowercase letters, digits or dashes."
  }
}

variable "state_bucket" {
  description = "S3 bucket holding every stack's state (the same bucket given to -backend-config)."
  type        = string
}

variable "state_key_prefix" {
  description = "Prefix of the state keys: each stack's state is <prefix>/<stack>.tfstate."
  type        = string
  default     = "sum-api/dev"
}

variable "certificate_arn" {
  description = "ACM certificate of the ALB's HTTPS listener."
  type        = string
}

variable "image_tag" {
  description = "Service image tag to deploy (the release version); the release workflow sets it."
  type        = string
}

variable "min_count" {
  description = "Fewest service tasks (at least 2)."
  type        = number
  default     = 2
}

variable "max_count" {
  description = "Most service tasks autoscaling may run."
  type        = number
  default     = 6
}

variable "requests_per_target" {
  description = "Autoscaling target (ALBRequestCountPerTarget): requests per task per minute. Take it from `loadgen capacity --json` run against one task of this release: its autoscaling.alb_request_count_per_target, one task's capacity under the SLOs x headroom x 60 (docs/loadgen.md, The autoscaling target)."
  type        = number
  default     = 3000
  validation {
    condition     = var.requests_per_target >= 1
    error_message = "requests_per_target must be at least 1 request per task per minute."
  }
}

variable "deletion_protection" {
  description = "Protect the ALB from deletion."
  type        = bool
  default     = true
}

variable "access_logs_bucket" {
  description = "Existing S3 bucket for ALB access logs; empty disables them."
  type        = string
  default     = ""
}
