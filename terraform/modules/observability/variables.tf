variable "name_prefix" {
  description = "Prefix of every resource name, e.g. sum-api-dev."
  type        = string
}

variable "environment" {
  description = "Environment name: the canary's Environment dimension."
  type        = string
}

variable "alarms_file" {
  description = "Path of alarms/cloudwatch.yaml: the alarm definitions, rendered with templatefile."
  type        = string
}

variable "slo_alarms_file" {
  description = "Path of alarms/cloudwatch-slo.yaml: the SLO burn-rate alarms generated from slo/ (`cargo run -p slo -- generate`), same schema, rendered with templatefile."
  type        = string
}

variable "dashboards_dir" {
  description = "Path of dashboards/cloudwatch: every *.json there becomes a dashboard, rendered with templatefile."
  type        = string
}

variable "runbook_base_url" {
  description = "URL under which alarms/runbooks/*.md are browsable, without a trailing slash."
  type        = string
  validation {
    condition     = startswith(var.runbook_base_url, "https://") && !endswith(var.runbook_base_url, "/")
    error_message = "runbook_base_url must be an https:// URL without a trailing slash."
  }
}

variable "alb_arn_suffix" {
  description = "The ALB's arn_suffix (app/<name>/<id>) from the compute stack: the LoadBalancer dimension. Never the name."
  type        = string
  validation {
    condition     = can(regex("^app/[^/]+/[0-9a-f]+$", var.alb_arn_suffix))
    error_message = "alb_arn_suffix must be an ALB arn_suffix (app/<name>/<id>), not a name or a full ARN."
  }
}

variable "target_group_arn_suffix" {
  description = "The target group's arn_suffix (targetgroup/<name>/<id>) from the compute stack: the TargetGroup dimension."
  type        = string
  validation {
    condition     = can(regex("^targetgroup/[^/]+/[0-9a-f]+$", var.target_group_arn_suffix))
    error_message = "target_group_arn_suffix must be a target group arn_suffix (targetgroup/<name>/<id>)."
  }
}

variable "cluster_name" {
  description = "ECS cluster of the service (compute stack)."
  type        = string
}

variable "service_name" {
  description = "ECS service of the sum API (compute stack)."
  type        = string
}

variable "service_log_group" {
  description = "Log group the service writes to (compute stack), queried by the dashboards."
  type        = string
}

variable "canary_log_group" {
  description = "Log group the canary writes to (canary stack), queried by the dashboards."
  type        = string
}

variable "canary_namespace" {
  description = "CloudWatch namespace of the canary's metrics (canary stack)."
  type        = string
  default     = "SumApi/Canary"
}

variable "canary_target_host" {
  description = "Host name of the URL the canary probes (canary stack's target_host): the Host dimension of its certificate alarms."
  type        = string
}

variable "canary_regions" {
  description = "The AWS regions the canary runs in (canary stack's regions), the home region first: the Region dimension of its per-region alarms (a dead-man alarm each, M-of-N quorums)."
  type        = list(string)
  validation {
    condition     = length(var.canary_regions) >= 1 && length(var.canary_regions) <= 5 && length(distinct(var.canary_regions)) == length(var.canary_regions)
    error_message = "canary_regions must name 1 to 5 distinct regions (a CloudWatch alarm reads at most 10 metrics; the auth quorum reads two per region)."
  }
}

variable "canary_quorum" {
  description = "M of the canary's M-of-N alarms: they page when at least this many regions fail (one failing region tickets). null: 2, or 1 with a single region."
  type        = number
  default     = null
  validation {
    condition     = var.canary_quorum == null || try(var.canary_quorum >= 1 && var.canary_quorum <= length(var.canary_regions) && floor(var.canary_quorum) == var.canary_quorum, false)
    error_message = "canary_quorum must be a whole number from 1 to the number of canary_regions (M of N needs M <= N)."
  }
}

variable "page_subscriptions" {
  description = "Subscribers of the page topic (e.g. the paging service's HTTPS endpoint)."
  type        = list(object({ protocol = string, endpoint = string }))
  default     = []
}

variable "ticket_subscriptions" {
  description = "Subscribers of the ticket topic (e.g. the ticket system's email address)."
  type        = list(object({ protocol = string, endpoint = string }))
  default     = []
}
