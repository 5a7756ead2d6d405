# The alarms an ECS deployment watches (compute stack): the long-window metric alarm of every
# page-level SLO burn of alarms/cloudwatch-slo.yaml, named as the observability module names
# its alarms (<name_prefix>-<name>). A deployment that burns the error budget fast enough to
# page fails and rolls back.
#
# Why metric alarms and not the page composites: ECS documents its deployment alarms as
# CloudWatch *metric* alarms and derives the deployment's bake time from their period and
# evaluation periods, which a composite does not have; composites are nowhere said to be
# supported. Of a burn's two window alarms, the long one carries the low-traffic guard (at least
# a handful of bad events), so a single failed canary probe during a deployment does not roll
# it back; the short one alone would. ECS keeps watching the alarms after the tasks are
# replaced, for a bake time it computes from the alarms' configuration: with windows of hours,
# expect a deployment to stay in progress (baking) for a long while.
#
# Why from the file and not from the observability stack's outputs: observability reads the
# compute stack's outputs (the ALB dimensions) and is applied after it (scripts/deploy.sh), so
# compute cannot read observability's state back. The names are data: the same file and prefix
# give the same names.
#
# No provider: terraform evaluates this module offline (the checks crate's wiring test does).

locals {
  # file, not templatefile: only names and periods are read, which hold no template variables.
  slo        = yamldecode(file(var.slo_alarms_file))
  periods    = { for a in local.slo.alarms : a.name => a.period }
  page_burns = [for c in try(local.slo.composites, []) : c if c.severity == "page"]
  # The long window of a burn: the member of all_of with the longest period.
  long_windows = [
    for c in local.page_burns : one([
      for m in c.all_of : m if local.periods[m] == max([for n in c.all_of : local.periods[n]]...)
    ])
  ]
}
