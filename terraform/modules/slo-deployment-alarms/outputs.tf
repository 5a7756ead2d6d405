output "alarm_names" {
  description = "The long-window metric alarm of every page-level SLO burn, as the observability module names it."
  value       = [for name in local.long_windows : "${var.name_prefix}-${name}"]
}
