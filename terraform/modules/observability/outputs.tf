output "page_topic_arn" {
  description = "SNS topic of alarms that page."
  value       = aws_sns_topic.this["page"].arn
}

output "ticket_topic_arn" {
  description = "SNS topic of alarms that open a ticket."
  value       = aws_sns_topic.this["ticket"].arn
}

output "alarm_names" {
  description = "Every alarm created from alarms/cloudwatch.yaml and alarms/cloudwatch-slo.yaml, composites included."
  value = concat(
    [for a in aws_cloudwatch_metric_alarm.this : a.alarm_name],
    [for c in aws_cloudwatch_composite_alarm.this : c.alarm_name],
  )
}

output "slo_page_burn_alarm_names" {
  description = "The page-level SLO burn composites (alarms/cloudwatch-slo.yaml, severity page): a budget burning fast enough to page."
  value       = [for name in local.slo_page_burns : aws_cloudwatch_composite_alarm.this[name].alarm_name]
}

output "dashboard_names" {
  description = "Every dashboard created from dashboards/cloudwatch."
  value       = [for d in aws_cloudwatch_dashboard.this : d.dashboard_name]
}
