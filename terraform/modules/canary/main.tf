# The canary as a scheduled ECS task in every region of var.regions: in each, EventBridge
# Scheduler starts one `canary run --once` task every minute (retrying a failed start), the task
# probes the API through the gateway and publishes to CloudWatch in the home region (the region
# of this stack's provider, where the alarms are), with its own region as the Region dimension.
# Its task role may call only cloudwatch:PutMetricData, and only for its own namespace. When a
# region's canary stops running, that region's dead-man alarm (observability stack) fires.
#
# What exists where. Global: the IAM roles (task, execution, scheduler). Home region: the log
# group, which every region's tasks write to (awslogs-region), so that one Logs Insights query
# sees every region and the EMF fallback's metrics land where the alarms are. Per region (the
# provider's per-resource `region` argument, no provider aliases): the task definition, the
# schedule and its dead-letter queue, and, outside the home region, an ECS cluster of its own and
# the network. The networking stack is single-region: the home region's tasks use its private
# subnets and probe security group; another region uses var.region_networks[region] when given
# (its private subnets, with NAT, and a security group), else its default VPC's subnets with a
# public IP and a security group made here (no inbound, HTTPS out).
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  home_region = data.aws_region.current.region
  regions     = toset(var.regions)
  remote      = toset([for r in var.regions : r if r != local.home_region])
  # Remote regions without a network of their own: their default VPC.
  default_vpc_regions = toset([for r in local.remote : r if !contains(keys(var.region_networks), r)])
  clusters = merge(
    { for r in local.regions : r => var.cluster_arn if r == local.home_region },
    { for r, c in aws_ecs_cluster.canary : r => c.arn },
  )
  networks = merge(
    {
      for r in local.regions : r => {
        subnet_ids        = var.private_subnet_ids
        security_group_id = var.security_group_id
        assign_public_ip  = false
      } if r == local.home_region
    },
    {
      for r, n in var.region_networks : r => {
        subnet_ids        = n.subnet_ids
        security_group_id = n.security_group_id
        assign_public_ip  = false
      } if contains(var.regions, r) && r != local.home_region
    },
    {
      for r in local.default_vpc_regions : r => {
        subnet_ids        = data.aws_subnets.default[r].ids
        security_group_id = aws_security_group.canary[r].id
        assign_public_ip  = true
      }
    },
  )
}

resource "aws_cloudwatch_log_group" "canary" {
  # checkov:skip=CKV_AWS_158:The canary never logs its API key or bodies; CloudWatch Logs' default encryption suffices.
  # checkov:skip=CKV_AWS_338:30 days of operational logs; no compliance archive is required for the canary.
  name              = "/ecs/${var.name_prefix}/canary"
  retention_in_days = var.log_retention_days
}

module "task_roles" {
  source              = "../ecs-task-roles"
  name                = "${var.name_prefix}-canary"
  secret_arns         = [var.api_key_secret_arn]
  secrets_kms_key_arn = var.secrets_kms_key_arn
  secrets_policy_name = "read-canary-api-key"
}

# PutMetricData has no resource-level permissions: the namespace condition is the only limit.
data "aws_iam_policy_document" "task" {
  statement {
    sid       = "PublishOwnNamespaceOnly"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [var.metrics_namespace]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "put-canary-metrics"
  role   = module.task_roles.task_role_id
  policy = data.aws_iam_policy_document.task.json
}

# --- Outside the home region: a cluster, and the default VPC's network unless one is given -------

resource "aws_ecs_cluster" "canary" {
  for_each = local.remote
  region   = each.key
  name     = "${var.name_prefix}-canary"
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

data "aws_vpc" "default" {
  for_each = local.default_vpc_regions
  region   = each.key
  default  = true
}

data "aws_subnets" "default" {
  for_each = local.default_vpc_regions
  region   = each.key
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.default[each.key].id]
  }
  filter {
    name   = "default-for-az"
    values = ["true"]
  }
}

resource "aws_security_group" "canary" {
  # checkov:skip=CKV2_AWS_5:Attached to the canary tasks of this region by the schedule's network_configuration.
  for_each    = local.default_vpc_regions
  region      = each.key
  name        = "${var.name_prefix}-canary"
  description = "Canary tasks: no inbound, HTTPS out"
  vpc_id      = data.aws_vpc.default[each.key].id
  tags        = { Name = "${var.name_prefix}-canary" }
}

resource "aws_vpc_security_group_egress_rule" "canary_https" {
  for_each          = local.default_vpc_regions
  region            = each.key
  security_group_id = aws_security_group.canary[each.key].id
  description       = "HTTPS to the gateway and AWS APIs"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

# --- The task, in every region ----------------------------------------------------------------------

resource "aws_ecs_task_definition" "canary" {
  for_each                 = local.regions
  region                   = each.key
  family                   = "${var.name_prefix}-canary"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = module.task_roles.execution_role_arn
  task_role_arn            = module.task_roles.task_role_arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  container_definitions = jsonencode([{
    name                   = "canary"
    image                  = var.image
    essential              = true
    readonlyRootFilesystem = true
    command                = ["run", "--once"]
    # AWS_REGION is where the task runs: the canary's Region dimension. CANARY_HOME_REGION is
    # where its metrics go.
    environment = concat([
      { name = "CANARY_TARGET", value = var.target_url },
      { name = "CANARY_ENVIRONMENT", value = var.environment },
      { name = "CANARY_NAMESPACE", value = var.metrics_namespace },
      { name = "AWS_REGION", value = each.key },
      { name = "CANARY_HOME_REGION", value = local.home_region },
      { name = "LOG_FORMAT", value = "json" },
      ], var.rate_limit_per_minute == null ? [] : [
      { name = "CANARY_RATE_LIMIT", value = tostring(var.rate_limit_per_minute) },
    ])
    secrets = [{ name = "CANARY_API_KEY", valueFrom = var.api_key_secret_arn }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.canary.name
        awslogs-region        = local.home_region
        awslogs-stream-prefix = "canary-${each.key}"
      }
    }
  }])
}

# --- Schedule -------------------------------------------------------------------------------------

resource "aws_sqs_queue" "schedule_dlq" {
  for_each                  = local.regions
  region                    = each.key
  name                      = "${var.name_prefix}-canary-schedule-dlq"
  sqs_managed_sse_enabled   = true
  message_retention_seconds = 1209600
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name_prefix}-canary-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    actions   = ["ecs:RunTask"]
    resources = [for td in aws_ecs_task_definition.canary : "${td.arn_without_revision}:*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = values(local.clusters)
    }
  }
  statement {
    actions   = ["iam:PassRole"]
    resources = [module.task_roles.execution_role_arn, module.task_roles.task_role_arn]
  }
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [for q in aws_sqs_queue.schedule_dlq : q.arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "run-canary-task"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "canary" {
  # checkov:skip=CKV_AWS_297:The schedule holds no secret (task definition, subnets); the API key reaches the task from Secrets Manager.
  for_each            = local.regions
  region              = each.key
  name                = "${var.name_prefix}-canary"
  description         = "Runs one canary round through the gateway from ${each.key} (dead-man alarm: canary-heartbeat-missing-${each.key})"
  schedule_expression = var.schedule_expression
  state               = "ENABLED"
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = local.clusters[each.key]
    role_arn = aws_iam_role.scheduler.arn
    ecs_parameters {
      task_definition_arn = aws_ecs_task_definition.canary[each.key].arn
      launch_type         = "FARGATE"
      task_count          = 1
      network_configuration {
        subnets          = local.networks[each.key].subnet_ids
        security_groups  = [local.networks[each.key].security_group_id]
        assign_public_ip = local.networks[each.key].assign_public_ip
      }
    }
    # A failed RunTask (throttling, capacity) is retried within the minute; past that the next
    # scheduled run is due anyway, and the failure goes to the dead-letter queue.
    retry_policy {
      maximum_event_age_in_seconds = 60
      maximum_retry_attempts       = 3
    }
    dead_letter_config {
      arn = aws_sqs_queue.schedule_dlq[each.key].arn
    }
  }
}
