variable "region" {
  description = "AWS region of the environment (where the secrets and the ALB live)."
  type        = string
  default     = "eu-west-1"
}

variable "environment" {
  description = "Environment name (dev, staging, prod)."
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

variable "konnect_server_url" {
  description = "Konnect API of the organisation's region, e.g. https://eu.api.konghq.com."
  type        = string
  default     = "https://eu.api.konghq.com"
}

variable "konnect_token" {
  description = "Konnect system account access token; pass it as TF_VAR_konnect_token from the CI secret store, never in a tfvars file."
  type        = string
  sensitive   = true
}

variable "control_plane_id" {
  description = "ID of the Konnect control plane (serverless gateway) of this environment."
  type        = string
}

variable "policy_file" {
  description = "The gateway policy: gateway/kong.yaml of this repository."
  type        = string
  default     = "../../../../gateway/kong.yaml"
}

variable "entry_renames" {
  description = "Env vault references of kong.yaml whose Secrets Manager entry (secrets stack) has another name; every other reference <name> is read from the entry <name>. sum-api-origin-secret names the origin secret the gateway sends: origin-secret or origin-secret-alt (the service accepts both; switch to the other one to rotate, docs/operations.md)."
  type = list(object({
    reference = string
    entry     = string
  }))
  default = [
    { reference = "sum-api-origin-secret", entry = "origin-secret" },
  ]
}
