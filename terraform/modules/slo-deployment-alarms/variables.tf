variable "slo_alarms_file" {
  description = "Path of alarms/cloudwatch-slo.yaml: the SLO burn-rate alarms generated from slo/."
  type        = string
}

variable "name_prefix" {
  description = "The prefix the observability module puts before every alarm name, e.g. sum-api-dev."
  type        = string
}
