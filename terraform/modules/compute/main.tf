# The service on ECS Fargate behind an ALB: image repositories, the cluster, the task definition,
# the ALB (HTTPS, HTTP redirected), the target group checking /healthz/ready, and the ECS
# service with a deployment circuit breaker, deployment alarms (rollback on an SLO burn) and
# autoscaling on CPU and requests per target.
#
# Shutdown timing: ECS deregisters a task, waits for the target group's deregistration delay,
# then sends SIGTERM; the service keeps serving for its drain and lets in-flight requests finish
# within its shutdown timeout; ECS kills it after stopTimeout. So the deregistration delay covers
# drain + timeout, and stopTimeout exceeds both.
#
# Rolling deploys: ECS starts the new tasks first (minimum healthy 100%, maximum 200%), routes to
# them once the target group's checks pass (within the grace period), then deregisters and stops
# the old ones. checks/tests/it/rolling_deploy.rs runs such a deploy, and a task killed hard,
# with real tasks behind an ALB stand-in under load with these settings ten times faster; the
# wiring checks hold these values equal to the test's (docs/operations.md#rolling-deploys).
#
# Tracing (docs/tracing.md#terraform-adot-and-x-ray): every service task runs the ADOT collector
# as a sidecar; the service exports its spans over OTLP/HTTP to it on localhost:4318, and it
# forwards them to X-Ray with the task role (X-Ray's write and sampling actions only). Kong runs
# in Konnect, outside the VPC, so it cannot reach a sidecar: its spans go through the ALB
# (path /v1/traces, ALB security group: Kong's egress and operators only) to a small collector
# service of its own. It is not a target group of the service, whose tasks a dead collector must
# never recycle. Non-essential everywhere: a collector that dies costs traces, never a request.

locals {
  repositories         = toset(["service", "canary", "loadgen"])
  deregistration_delay = var.shutdown_drain_seconds + var.shutdown_timeout_seconds
  stop_timeout         = min(120, var.shutdown_drain_seconds + var.shutdown_timeout_seconds + 5)
  # A new task has this long to pass healthy_threshold checks before ECS counts it failed.
  health_check_grace_period = 30
  target_health_check = {
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  # The ADOT collector: v0.43.3 by its multi-platform index digest (the tag is for readers; the
  # digest is what ECS pulls). Raise both together.
  otel_collector_image = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3@sha256:8aa9ea5f67b8d318f7d6af24677e3c70f7098bc0631147cb5fa91addbe980b06"
  otlp_http_port       = 4318
  otel_health_port     = 13133
  # What the service's OTLP exporter is pointed at (OTEL_EXPORTER_OTLP_ENDPOINT): the sidecar.
  otlp_endpoint = "http://localhost:${local.otlp_http_port}"
  # The collector's pipeline: OTLP/HTTP in, batched, X-Ray out (the task role signs). Passed
  # whole in AOT_CONFIG_CONTENT, so the image needs no file of ours.
  otel_collector_config = yamlencode({
    extensions = {
      health_check = { endpoint = "0.0.0.0:${local.otel_health_port}" }
    }
    receivers = {
      otlp = { protocols = { http = { endpoint = "0.0.0.0:${local.otlp_http_port}" } } }
    }
    processors = {
      memory_limiter = { check_interval = "1s", limit_mib = 100 }
      batch          = { timeout = "1s" }
    }
    exporters = {
      awsxray = { region = data.aws_region.current.region }
    }
    service = {
      extensions = ["health_check"]
      pipelines = {
        traces = { receivers = ["otlp"], processors = ["memory_limiter", "batch"], exporters = ["awsxray"] }
      }
    }
  })
  # One container definition for both collectors (the sidecar and Kong's).
  otel_collector_container = {
    name                   = "otel-collector"
    image                  = local.otel_collector_image
    essential              = false
    readonlyRootFilesystem = true
    user                   = "10001"
    portMappings = [
      { containerPort = local.otlp_http_port, protocol = "tcp", name = "otlp-http" },
      { containerPort = local.otel_health_port, protocol = "tcp", name = "otel-health" },
    ]
    environment = [
      { name = "AOT_CONFIG_CONTENT", value = local.otel_collector_config },
    ]
    healthCheck = {
      command     = ["/healthcheck"]
      interval    = 10
      timeout     = 5
      retries     = 3
      startPeriod = 10
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.service.name
        awslogs-region        = data.aws_region.current.region
        awslogs-stream-prefix = "otel-collector"
      }
    }
  }
}

data "aws_region" "current" {}

# --- Images ---------------------------------------------------------------------------------------

resource "aws_ecr_repository" "this" {
  for_each             = local.repositories
  name                 = "${var.name_prefix}/${each.key}"
  image_tag_mutability = "IMMUTABLE"
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = "KMS"
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each   = aws_ecr_repository.this
  repository = each.value.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last 50 images (releases to roll back to)"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 50 }
      action       = { type = "expire" }
    }]
  })
}

# --- Cluster and task -----------------------------------------------------------------------------

resource "aws_ecs_cluster" "this" {
  name = var.name_prefix
  # Container Insights publishes RunningTaskCount/DesiredTaskCount, which an alarm reads.
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "service" {
  # checkov:skip=CKV_AWS_158:The service never logs secrets or request bodies; CloudWatch Logs' default encryption suffices.
  # checkov:skip=CKV_AWS_338:30 days of operational logs; no compliance archive is required for this service.
  name              = "/ecs/${var.name_prefix}/service"
  retention_in_days = var.log_retention_days
}

# The service calls no AWS API; its task role holds only what the ADOT sidecar needs to write to
# X-Ray (aws_iam_role_policy.xray).
module "task_roles" {
  source              = "../ecs-task-roles"
  name                = "${var.name_prefix}-service"
  secret_arns         = compact([var.origin_secret_arn, var.origin_secret_alt_arn])
  secrets_kms_key_arn = var.secrets_kms_key_arn
  secrets_policy_name = "read-origin-secret"
}

# X-Ray's write and sampling actions, nothing else: what the ADOT collector's awsxray exporter
# calls. X-Ray has no resource-level permissions for them, hence "*".
data "aws_iam_policy_document" "xray" {
  # checkov:skip=CKV_AWS_356:X-Ray's PutTraceSegments, PutTelemetryRecords and sampling actions support no resource-level permissions; "*" is the only resource they take.
  statement {
    actions = [
      "xray:PutTraceSegments",
      "xray:PutTelemetryRecords",
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
      "xray:GetSamplingStatisticSummaries",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "xray" {
  name   = "write-xray"
  role   = module.task_roles.task_role_id
  policy = data.aws_iam_policy_document.xray.json
}

resource "aws_ecs_task_definition" "service" {
  family                   = "${var.name_prefix}-service"
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
    name                   = "service"
    image                  = "${aws_ecr_repository.this["service"].repository_url}:${var.image_tag}"
    essential              = true
    readonlyRootFilesystem = true
    user                   = "65532"
    stopTimeout            = local.stop_timeout
    portMappings = [
      { containerPort = var.container_port, protocol = "tcp", name = "http" },
      { containerPort = var.metrics_port, protocol = "tcp", name = "metrics" },
    ]
    environment = [
      { name = "SERVICE_LISTEN", value = "0.0.0.0:${var.container_port}" },
      { name = "SERVICE_METRICS_LISTEN", value = "0.0.0.0:${var.metrics_port}" },
      { name = "SERVICE_SHUTDOWN_DRAIN", value = "${var.shutdown_drain_seconds}s" },
      { name = "SERVICE_SHUTDOWN_TIMEOUT", value = "${var.shutdown_timeout_seconds}s" },
      { name = "LOG_FORMAT", value = "json" },
      # Spans to the ADOT sidecar (the trace crate posts to <endpoint>/v1/traces).
      { name = "OTEL_EXPORTER_OTLP_ENDPOINT", value = local.otlp_endpoint },
      { name = "OTEL_SERVICE_NAME", value = "sum-api" },
    ]
    # Both origin secrets, one per variable: the service accepts either (rotation: docs/operations.md).
    secrets = concat(
      [{ name = "SERVICE_ORIGIN_SECRET", valueFrom = var.origin_secret_arn }],
      var.origin_secret_alt_arn == null ? [] : [{ name = "SERVICE_ORIGIN_SECRET_ALT", valueFrom = var.origin_secret_alt_arn }],
    )
    # The image has no shell or curl: the binary checks its own liveness endpoint.
    healthCheck = {
      command     = ["CMD", "/usr/local/bin/service", "healthcheck", "--url", "http://127.0.0.1:${var.container_port}/healthz/live"]
      interval    = 10
      timeout     = 5
      retries     = 3
      startPeriod = 10
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.service.name
        awslogs-region        = data.aws_region.current.region
        awslogs-stream-prefix = "service"
      }
    }
  }, local.otel_collector_container])
}

# --- Load balancer --------------------------------------------------------------------------------

resource "aws_lb" "this" {
  # checkov:skip=CKV2_AWS_28:Only the gateway's egress and operators reach the ALB (security group); the gateway (Kong) does key auth, rate limiting and size limits in front of it.
  # checkov:skip=CKV_AWS_91:Access logs go to the organisation's log bucket when access_logs_bucket is set; this stack creates no bucket of its own.
  name                       = var.name_prefix
  load_balancer_type         = "application"
  internal                   = false
  security_groups            = [var.alb_security_group_id]
  subnets                    = var.public_subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  idle_timeout               = 60
  dynamic "access_logs" {
    for_each = var.access_logs_bucket == "" ? [] : [var.access_logs_bucket]
    content {
      bucket  = access_logs.value
      prefix  = var.name_prefix
      enabled = true
    }
  }
}

resource "aws_lb_target_group" "service" {
  # checkov:skip=CKV_AWS_378:TLS ends at the ALB; tasks are reachable only from the ALB's security group inside the VPC, and the origin secret authenticates the gateway.
  name                 = var.name_prefix
  target_type          = "ip"
  protocol             = "HTTP"
  port                 = var.container_port
  vpc_id               = var.vpc_id
  deregistration_delay = local.deregistration_delay
  health_check {
    path                = "/healthz/ready"
    matcher             = "200"
    interval            = local.target_health_check.interval
    timeout             = local.target_health_check.timeout
    healthy_threshold   = local.target_health_check.healthy_threshold
    unhealthy_threshold = local.target_health_check.unhealthy_threshold
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.service.arn
  }
}

resource "aws_lb_listener" "http_redirect" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

# --- Service and autoscaling ----------------------------------------------------------------------

resource "aws_ecs_service" "this" {
  name                              = "${var.name_prefix}-service"
  cluster                           = aws_ecs_cluster.this.id
  task_definition                   = aws_ecs_task_definition.service.arn
  desired_count                     = var.desired_count
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  health_check_grace_period_seconds = local.health_check_grace_period
  propagate_tags                    = "SERVICE"
  # Fargate spreads the tasks over the subnets' AZs.
  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [var.service_security_group_id]
    assign_public_ip = false
  }
  load_balancer {
    target_group_arn = aws_lb_target_group.service.arn
    container_name   = "service"
    container_port   = var.container_port
  }
  deployment_minimum_healthy_percent = local.deployment_minimum_healthy_percent
  deployment_maximum_percent         = local.deployment_maximum_percent
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  # The circuit breaker catches tasks that never get healthy; these alarms catch healthy tasks
  # that burn the error budget: one in ALARM during the deployment or its bake time fails it and
  # ECS rolls back to the last completed deployment. An alarm already in ALARM when a deployment
  # starts does not fail it, so a fix deployed during a burn is not rolled back.
  dynamic "alarms" {
    for_each = length(var.deployment_alarm_names) > 0 ? [var.deployment_alarm_names] : []
    content {
      alarm_names = alarms.value
      enable      = true
      rollback    = true
    }
  }
  # Autoscaling owns the count after the first deploy.
  lifecycle {
    ignore_changes = [desired_count]
  }
  depends_on = [aws_lb_listener.https]
}

resource "aws_appautoscaling_target" "service" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this.name}"
  min_capacity       = var.min_count
  max_capacity       = var.max_count
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${var.name_prefix}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.service.service_namespace
  scalable_dimension = aws_appautoscaling_target.service.scalable_dimension
  resource_id        = aws_appautoscaling_target.service.resource_id
  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target_percent
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "requests" {
  name               = "${var.name_prefix}-requests-per-target"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.service.service_namespace
  scalable_dimension = aws_appautoscaling_target.service.scalable_dimension
  resource_id        = aws_appautoscaling_target.service.resource_id
  target_tracking_scaling_policy_configuration {
    target_value       = var.requests_per_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      # arn_suffix, not names: "<alb arn_suffix>/<target group arn_suffix>".
      resource_label = "${aws_lb.this.arn_suffix}/${aws_lb_target_group.service.arn_suffix}"
    }
  }
}

# --- Kong's collector -----------------------------------------------------------------------------

# Kong (Konnect) sends its spans to https://<ALB>/v1/traces (kong.yaml's opentelemetry plugin;
# the gateway stack puts the ALB's name in). The ALB forwards that path to this service: the same
# ADOT collector as the sidecar, on the same roles, in tasks of its own.
resource "aws_ecs_task_definition" "gateway_collector" {
  family                   = "${var.name_prefix}-gateway-collector"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = module.task_roles.execution_role_arn
  task_role_arn            = module.task_roles.task_role_arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  container_definitions = jsonencode([merge(local.otel_collector_container, { essential = true })])
}

resource "aws_lb_target_group" "gateway_collector" {
  # checkov:skip=CKV_AWS_378:TLS ends at the ALB; the collector tasks are reachable only from the ALB's security group inside the VPC.
  name                 = "${var.name_prefix}-otlp"
  target_type          = "ip"
  protocol             = "HTTP"
  port                 = local.otlp_http_port
  vpc_id               = var.vpc_id
  deregistration_delay = 10
  health_check {
    path                = "/"
    port                = tostring(local.otel_health_port)
    matcher             = "200"
    interval            = local.target_health_check.interval
    timeout             = local.target_health_check.timeout
    healthy_threshold   = local.target_health_check.healthy_threshold
    unhealthy_threshold = local.target_health_check.unhealthy_threshold
  }
}

resource "aws_lb_listener_rule" "gateway_collector" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 10
  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.gateway_collector.arn
  }
  condition {
    path_pattern {
      values = ["/v1/traces"]
    }
  }
}

# The ALB to the collector's OTLP and health ports (networking's rules open only the service's).
resource "aws_vpc_security_group_egress_rule" "alb_to_collector" {
  for_each                     = { otlp = local.otlp_http_port, health = local.otel_health_port }
  security_group_id            = var.alb_security_group_id
  description                  = "To Kong's collector (${each.key})"
  referenced_security_group_id = var.service_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
}

resource "aws_vpc_security_group_ingress_rule" "collector_from_alb" {
  for_each                     = { otlp = local.otlp_http_port, health = local.otel_health_port }
  security_group_id            = var.service_security_group_id
  description                  = "Kong's collector (${each.key}) from the ALB"
  referenced_security_group_id = var.alb_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
}

resource "aws_ecs_service" "gateway_collector" {
  name                              = "${var.name_prefix}-gateway-collector"
  cluster                           = aws_ecs_cluster.this.id
  task_definition                   = aws_ecs_task_definition.gateway_collector.arn
  desired_count                     = 2
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  health_check_grace_period_seconds = local.health_check_grace_period
  propagate_tags                    = "SERVICE"
  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [var.service_security_group_id]
    assign_public_ip = false
  }
  load_balancer {
    target_group_arn = aws_lb_target_group.gateway_collector.arn
    container_name   = "otel-collector"
    container_port   = local.otlp_http_port
  }
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  depends_on = [aws_lb_listener_rule.gateway_collector]
}
