# The canary as a scheduled ECS task: EventBridge Scheduler starts one `canary run --once` task
# every minute (retrying a failed start), the task probes the API through the gateway and
# publishes to CloudWatch. Its task role may call only cloudwatch:PutMetricData, and only for
# its own namespace. When it stops running, the dead-man alarm (observability stack) fires.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

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

resource "aws_ecs_task_definition" "canary" {
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
    environment = concat([
      { name = "CANARY_TARGET", value = var.target_url },
      { name = "CANARY_ENVIRONMENT", value = var.environment },
      { name = "CANARY_NAMESPACE", value = var.metrics_namespace },
      { name = "AWS_REGION", value = data.aws_region.current.region },
      { name = "LOG_FORMAT", value = "json" },
      ], var.rate_limit_per_minute == null ? [] : [
      { name = "CANARY_RATE_LIMIT", value = tostring(var.rate_limit_per_minute) },
    ])
    secrets = [{ name = "CANARY_API_KEY", valueFrom = var.api_key_secret_arn }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.canary.name
        awslogs-region        = data.aws_region.current.region
        awslogs-stream-prefix = "canary"
      }
    }
  }])
}

# --- Schedule -------------------------------------------------------------------------------------

resource "aws_sqs_queue" "schedule_dlq" {
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
    resources = ["${aws_ecs_task_definition.canary.arn_without_revision}:*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.cluster_arn]
    }
  }
  statement {
    actions   = ["iam:PassRole"]
    resources = [module.task_roles.execution_role_arn, module.task_roles.task_role_arn]
  }
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.schedule_dlq.arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "run-canary-task"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "canary" {
  # checkov:skip=CKV_AWS_297:The schedule holds no secret (task definition, subnets); the API key reaches the task from Secrets Manager.
  name                = "${var.name_prefix}-canary"
  description         = "Runs one canary round through the gateway (dead-man alarm: canary-heartbeat-missing)"
  schedule_expression = var.schedule_expression
  state               = "ENABLED"
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = var.cluster_arn
    role_arn = aws_iam_role.scheduler.arn
    ecs_parameters {
      task_definition_arn = aws_ecs_task_definition.canary.arn
      launch_type         = "FARGATE"
      task_count          = 1
      network_configuration {
        subnets          = var.private_subnet_ids
        security_groups  = [var.security_group_id]
        assign_public_ip = false
      }
    }
    # A failed RunTask (throttling, capacity) is retried within the minute; past that the next
    # scheduled run is due anyway, and the failure goes to the dead-letter queue.
    retry_policy {
      maximum_event_age_in_seconds = 60
      maximum_retry_attempts       = 3
    }
    dead_letter_config {
      arn = aws_sqs_queue.schedule_dlq.arn
    }
  }
}
