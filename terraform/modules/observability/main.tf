# Alarms and dashboards, rendered from the repository's data: alarms/cloudwatch.yaml, the SLO
# burn-rate alarms generated into alarms/cloudwatch-slo.yaml and dashboards/cloudwatch/*.json go
# through templatefile with the values below, then yamldecode/jsondecode. There is no second
# copy here: change an alarm in alarms/ (an SLO in slo/, then regenerate), not in this module.
# Alarms notify the page or the ticket topic by their severity; severity none notifies nobody
# (an SLO burn's window alarm, read by its composite).

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  # M of the canary's M-of-N region alarms: 2 regions when it runs in two or more, else 1.
  canary_quorum = coalesce(var.canary_quorum, min(2, length(var.canary_regions)))
}

locals {
  # Every variable the templates may use; templatefile fails on any other. canary_regions is a
  # list: alarms/cloudwatch.yaml loops over it (%{ for i, r in canary_regions }).
  template_vars = {
    region                  = data.aws_region.current.region
    environment             = var.environment
    alb_arn_suffix          = var.alb_arn_suffix
    target_group_arn_suffix = var.target_group_arn_suffix
    cluster_name            = var.cluster_name
    service_name            = var.service_name
    canary_namespace        = var.canary_namespace
    canary_regions          = var.canary_regions
    canary_quorum           = tostring(local.canary_quorum)
    canary_target_host      = var.canary_target_host
    runbook_base_url        = var.runbook_base_url
    service_log_group       = var.service_log_group
    canary_log_group        = var.canary_log_group
  }
  definitions     = yamldecode(templatefile(var.alarms_file, local.template_vars))
  slo_definitions = yamldecode(templatefile(var.slo_alarms_file, local.template_vars))
  # One map over both files: a name defined twice fails the plan (duplicate key), and a
  # composite may read the alarms of either file.
  alarms = { for a in concat(local.definitions.alarms, local.slo_definitions.alarms) : a.name => a }
  composites = {
    for c in concat(try(local.definitions.composites, []), try(local.slo_definitions.composites, [])) : c.name => c
  }
  # The page-level SLO burns: the composites of the SLO file that page.
  slo_page_burns = [for c in try(local.slo_definitions.composites, []) : c.name if c.severity == "page"]
  topics = {
    page   = aws_sns_topic.this["page"].arn
    ticket = aws_sns_topic.this["ticket"].arn
  }
  subscriptions = merge(
    { for i, s in var.page_subscriptions : "page-${i}" => merge(s, { topic = "page" }) },
    { for i, s in var.ticket_subscriptions : "ticket-${i}" => merge(s, { topic = "ticket" }) },
  )
}

# --- Notification topics --------------------------------------------------------------------------

data "aws_iam_policy_document" "kms" {
  # checkov:skip=CKV_AWS_109:A key policy's "*" resource is this key alone; kms:* for the account root is AWS's default key policy, which leaves access to IAM policies.
  # checkov:skip=CKV_AWS_111:Same: the resource of a key policy statement is always the key itself.
  # checkov:skip=CKV_AWS_356:Same: "*" is the only valid resource in a key policy.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_kms_key" "alerts" {
  description             = "${var.name_prefix}: page and ticket SNS topics"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_sns_topic" "this" {
  for_each          = toset(["page", "ticket"])
  name              = "${var.name_prefix}-${each.key}"
  kms_master_key_id = aws_kms_key.alerts.arn
}

data "aws_iam_policy_document" "topic" {
  for_each = aws_sns_topic.this
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [each.value.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "this" {
  for_each = aws_sns_topic.this
  arn      = each.value.arn
  policy   = data.aws_iam_policy_document.topic[each.key].json
}

resource "aws_sns_topic_subscription" "this" {
  for_each  = local.subscriptions
  topic_arn = aws_sns_topic.this[each.value.topic].arn
  protocol  = each.value.protocol
  endpoint  = each.value.endpoint
}

# --- Alarms from alarms/cloudwatch.yaml and alarms/cloudwatch-slo.yaml -------------------------------

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each          = local.alarms
  alarm_name        = "${var.name_prefix}-${each.key}"
  alarm_description = "[${each.value.severity}] ${trimspace(each.value.description)} Runbook: ${var.runbook_base_url}/${each.value.runbook}"

  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  evaluation_periods  = each.value.evaluation_periods
  datapoints_to_alarm = each.value.datapoints_to_alarm
  treat_missing_data  = each.value.treat_missing_data

  # One metric ...
  namespace          = try(each.value.namespace, null)
  metric_name        = try(each.value.metric_name, null)
  dimensions         = try(each.value.dimensions, null)
  statistic          = try(each.value.statistic, null)
  extended_statistic = try(each.value.extended_statistic, null)
  period             = can(each.value.metrics) ? null : each.value.period

  # ... or metric math.
  dynamic "metric_query" {
    for_each = try(each.value.metrics, [])
    content {
      id          = metric_query.value.id
      expression  = try(metric_query.value.expression, null)
      label       = try(metric_query.value.label, null)
      return_data = try(metric_query.value.return_data, false)
      dynamic "metric" {
        for_each = can(metric_query.value.metric) ? [metric_query.value.metric] : []
        content {
          namespace   = metric.value.namespace
          metric_name = metric.value.metric_name
          dimensions  = metric.value.dimensions
          stat        = metric.value.stat
          period      = each.value.period
        }
      }
    }
  }

  # Severity none: the alarm notifies nobody; the composite that reads it pages or tickets.
  actions_enabled = each.value.severity != "none"
  alarm_actions   = each.value.severity == "none" ? [] : [local.topics[each.value.severity]]
  ok_actions      = each.value.severity == "none" ? [] : [local.topics[each.value.severity]]
}

resource "aws_cloudwatch_composite_alarm" "this" {
  for_each          = local.composites
  alarm_name        = "${var.name_prefix}-${each.key}"
  alarm_description = "[${each.value.severity}] ${trimspace(each.value.description)} Runbook: ${var.runbook_base_url}/${each.value.runbook}"
  # all_of: ALARM when every member is (an SLO burn: long and short window); any_of: when any is.
  # Members are metric alarms of either file; indexing them fails the plan on a missing one.
  alarm_rule = (can(each.value.all_of)
    ? join(" AND ", [for name in each.value.all_of : "ALARM(\"${aws_cloudwatch_metric_alarm.this[name].alarm_name}\")"])
    : join(" OR ", [for name in each.value.any_of : "ALARM(\"${aws_cloudwatch_metric_alarm.this[name].alarm_name}\")"])
  )
  # A composite always notifies: the checks crate refuses a composite of severity none.
  actions_enabled = true
  alarm_actions   = [local.topics[each.value.severity]]
  ok_actions      = [local.topics[each.value.severity]]
}

# --- Dashboards from dashboards/cloudwatch/*.json -------------------------------------------------

resource "aws_cloudwatch_dashboard" "this" {
  for_each       = fileset(var.dashboards_dir, "*.json")
  dashboard_name = "${var.name_prefix}-${trimsuffix(each.value, ".json")}"
  # Decoding and re-encoding fails the plan on a template that renders to invalid JSON.
  dashboard_body = jsonencode(jsondecode(templatefile("${var.dashboards_dir}/${each.value}", local.template_vars)))
}
