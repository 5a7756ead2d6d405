output "page_topic_arn" {
  description = "SNS topic of alarms that page."
  value       = module.observability.page_topic_arn
}

output "ticket_topic_arn" {
  description = "SNS topic of alarms that open a ticket."
  value       = module.observability.ticket_topic_arn
}

output "alarm_names" {
  description = "Every alarm created from alarms/cloudwatch.yaml."
  value       = module.observability.alarm_names
}

output "dashboard_names" {
  description = "Every dashboard created from dashboards/cloudwatch."
  value       = module.observability.dashboard_names
}
