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
