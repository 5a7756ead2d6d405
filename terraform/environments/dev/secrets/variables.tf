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

variable "secret_version" {
  description = "Generation of all secret values; raise by one to rotate them all (then redeploy the gateway and the tasks). secret_rotations rotates one alone."
  type        = number
  default     = 1
}

variable "secret_rotations" {
  description = "Extra generations of single secrets, by name: raise one entry by one to rotate that secret alone (e.g. { \"example-customer-api-key\" = 1 } for a leaked consumer key), then redeploy what reads it."
  type        = map(number)
  default     = {}
}
