variable "name_prefix" {
  description = "Prefix of every resource name, e.g. sum-api-dev."
  type        = string
}

variable "environment" {
  description = "Environment name: the canary's Environment dimension (CANARY_ENVIRONMENT)."
  type        = string
}

variable "regions" {
  description = "AWS regions the canary runs in, one scheduled task each; the home region (this stack's provider region, where the metrics, logs and alarms are) is usually the first. Each is the Region dimension of its metrics."
  type        = list(string)
  validation {
    condition     = length(var.regions) >= 1 && length(var.regions) <= 5 && length(distinct(var.regions)) == length(var.regions)
    error_message = "regions must name 1 to 5 distinct AWS regions (the alarms read at most 10 metrics each: two per region for the auth quorum)."
  }
  validation {
    condition     = alltrue([for r in var.regions : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$", r))])
    error_message = "regions must be AWS region names such as us-east-1."
  }
}

variable "cluster_arn" {
  description = "ECS cluster the canary runs in in the home region (compute stack); other regions get a cluster of their own."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets for the canary task in the home region (networking stack)."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the canary task in the home region: no inbound, HTTPS out (networking stack)."
  type        = string
}

variable "region_networks" {
  description = "Networks of the regions other than the home region, by region: private subnets (with a route out through NAT) and a security group with no inbound and HTTPS out. A region not listed runs in its default VPC's subnets with a public IP, behind a security group made here."
  type = map(object({
    subnet_ids        = list(string)
    security_group_id = string
  }))
  default = {}
  validation {
    condition     = alltrue([for n in values(var.region_networks) : length(n.subnet_ids) > 0 && n.security_group_id != ""])
    error_message = "each region_networks entry needs at least one subnet and a security group."
  }
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
