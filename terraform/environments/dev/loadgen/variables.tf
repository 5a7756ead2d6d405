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

variable "image_tag" {
  description = "loadgen image tag (the release version)."
  type        = string
}
