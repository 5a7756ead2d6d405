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

variable "secret_rotations" {
  description = "Extra generations of single secrets, by name (origin-secret, origin-secret-alt, canary-api-key, loadgen-api-key, example-customer-api-key, release-check-api-key): raise one entry by one to rotate that secret alone, e.g. a leaked consumer key, without changing the others. Added to secret_version. Never lower or remove an entry: the sum must only grow, or a later secret_version bump can land on a number already used and rotate nothing."
  type        = map(number)
  default     = {}
  validation {
    condition     = alltrue([for v in values(var.secret_rotations) : v >= 0 && floor(v) == v])
    error_message = "secret_rotations values must be whole numbers >= 0."
  }
  # A name that is not a secret here would silently rotate nothing (validation may read
  # locals since Terraform 1.9; this module needs 1.11).
  validation {
    condition     = alltrue([for k in keys(var.secret_rotations) : contains(keys(local.secrets), k)])
    error_message = "secret_rotations names a secret this module does not have (see local.secrets in main.tf)."
  }
}

variable "recovery_window_in_days" {
  description = "Days a deleted secret can still be restored (7 to 30)."
  type        = number
  default     = 7
}
