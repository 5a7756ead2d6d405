variable "name_prefix" {
  description = "Prefix of every resource name, e.g. sum-api-dev."
  type        = string
}

variable "secret_version" {
  description = "Generation of the secret values: raise it by one to generate new values (rotation). Values are write-only and never stored in state."
  type        = number
  default     = 1
  validation {
    condition     = var.secret_version >= 1 && floor(var.secret_version) == var.secret_version
    error_message = "secret_version must be a positive integer."
  }
}

variable "recovery_window_in_days" {
  description = "Days a deleted secret can still be restored (7 to 30)."
  type        = number
  default     = 7
}
