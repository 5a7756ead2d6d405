output "page_topic_arn" {
  description = "SNS topic of alarms that page."
  value       = aws_sns_topic.this["page"].arn
}

output "ticket_topic_arn" {
  description = "SNS topic of alarms that open a ticket."
  value       = aws_sns_topic.this["ticket"].arn
}

output "alarm_names" {
  description = "Every alarm created from alarms/cloudwatch.yaml, composites included."
  value = concat(
    [for a in aws_cloudwatch_metric_alarm.this : a.alarm_name],
    [for c in aws_cloudwatch_composite_alarm.this : c.alarm_name],
  )
}

output "dashboard_names" {
  description = "Every dashboard created from dashboards/cloudwatch."
  value       = [for d in aws_cloudwatch_dashboard.this : d.dashboard_name]
}
