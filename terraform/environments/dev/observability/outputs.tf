output "page_topic_arn" {
  description = "SNS topic of alarms that page."
  value       = module.observability.page_topic_arn
}

output "ticket_topic_arn" {
  description = "SNS topic of alarms that open a ticket."
  value       = module.observability.ticket_topic_arn
}

output "alarm_names" {
  description = "Every alarm created from alarms/cloudwatch.yaml and alarms/cloudwatch-slo.yaml."
  value       = module.observability.alarm_names
}

output "slo_page_burn_alarm_names" {
  description = "The page-level SLO burn composites: a budget burning fast enough to page."
  value       = module.observability.slo_page_burn_alarm_names
}

output "dashboard_names" {
  description = "Every dashboard created from dashboards/cloudwatch."
  value       = module.observability.dashboard_names
}
