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

variable "gateway_url" {
  description = "The gateway's public base URL: the canary probes through it, never the ALB directly."
  type        = string
}

variable "image_tag" {
  description = "Canary image tag (the release version)."
  type        = string
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the canary's metrics."
  type        = string
  default     = "SumApi/Canary"
}

variable "schedule_expression" {
  description = "How often the canary runs; the dead-man alarm's period (alarms/cloudwatch.yaml) is at least this interval (checked by the checks crate)."
  type        = string
  default     = "rate(1 minute)"
}

variable "canary_regions" {
  description = "Regions the canary runs in, one scheduled task each, the home region (var.region: metrics, logs and alarms) among them. Two by default, so that a failure seen from both is the service's and one seen from one is that region's path."
  type        = list(string)
  default     = ["eu-west-1", "eu-central-1"]
  validation {
    condition     = contains(var.canary_regions, var.region)
    error_message = "canary_regions must include the home region (var.region), where the alarms read the metrics."
  }
}

variable "canary_region_networks" {
  description = "Networks for the canary outside the home region, by region: { subnet_ids = [...], security_group_id = \"sg-...\" } (private subnets with NAT, no inbound, HTTPS out). A region not listed uses its default VPC with a public IP (the networking stack is single-region)."
  type = map(object({
    subnet_ids        = list(string)
    security_group_id = string
  }))
  default = {}
}
