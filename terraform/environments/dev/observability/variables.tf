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

variable "runbook_base_url" {
  description = "Where alarms/runbooks/*.md can be read in a browser, without a trailing slash."
  type        = string
}

variable "page_subscriptions" {
  description = "Subscribers of the page topic, e.g. the paging service's HTTPS endpoint."
  type        = list(object({ protocol = string, endpoint = string }))
  default     = []
}

variable "ticket_subscriptions" {
  description = "Subscribers of the ticket topic, e.g. the ticket system's email address."
  type        = list(object({ protocol = string, endpoint = string }))
  default     = []
}

variable "canary_quorum" {
  description = "How many of the canary's regions must fail before its quorum alarms page (one failing region tickets). null: 2, or 1 when the canary runs in a single region."
  type        = number
  default     = null
}
