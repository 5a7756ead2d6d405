# Distributed load tests on ECS: a loadgen task definition (scripts/distributed-loadtest.sh
# starts N of them with RunTask, sharing one --start-at) and the S3 bucket where each generator
# uploads its .hlog and report, so that `loadgen merge` can combine them afterwards.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

# --- Results bucket -------------------------------------------------------------------------------

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
}

resource "aws_kms_key" "results" {
  description             = "${var.name_prefix}: loadgen results bucket"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_s3_bucket" "results" {
  # checkov:skip=CKV_AWS_18:Results are written only by loadgen tasks and read by CI; CloudTrail data events cover access auditing where required.
  # checkov:skip=CKV_AWS_144:Load-test results are reproducible and kept for comparison only; cross-region replication is not worth its cost.
  # checkov:skip=CKV2_AWS_62:Nothing reacts to new results; the distributed-loadtest script waits for the tasks instead.
  bucket_prefix = "${var.name_prefix}-loadgen-"
}

resource "aws_s3_bucket_public_access_block" "results" {
  bucket                  = aws_s3_bucket.results.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "results" {
  bucket = aws_s3_bucket.results.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "results" {
  bucket = aws_s3_bucket.results.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "results" {
  bucket = aws_s3_bucket.results.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.results.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "results" {
  bucket = aws_s3_bucket.results.id
  rule {
    id     = "expire-old-runs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.results_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "results_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.results.arn, "${aws_s3_bucket.results.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "results" {
  bucket     = aws_s3_bucket.results.id
  policy     = data.aws_iam_policy_document.results_bucket.json
  depends_on = [aws_s3_bucket_public_access_block.results]
}

# --- Task -----------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "loadgen" {
  # checkov:skip=CKV_AWS_158:loadgen never logs its API key or bodies; CloudWatch Logs' default encryption suffices.
  # checkov:skip=CKV_AWS_338:30 days of operational logs; the reports themselves live in the results bucket.
  name              = "/ecs/${var.name_prefix}/loadgen"
  retention_in_days = var.log_retention_days
}

module "task_roles" {
  source              = "../ecs-task-roles"
  name                = "${var.name_prefix}-loadgen"
  secret_arns         = [var.api_key_secret_arn]
  secrets_kms_key_arn = var.secrets_kms_key_arn
  secrets_policy_name = "read-loadgen-api-key"
}

# Generators upload their results under runs/<run id>/; nothing else.
data "aws_iam_policy_document" "task" {
  statement {
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${aws_s3_bucket.results.arn}/runs/*"]
  }
  statement {
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.results.arn]
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "write-results"
  role   = module.task_roles.task_role_id
  policy = data.aws_iam_policy_document.task.json
}

resource "aws_ecs_task_definition" "loadgen" {
  family                   = "${var.name_prefix}-loadgen"
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
  volume {
    name = "results"
  }
  # The command (run parameters, --start-at, where to upload) is given per RunTask by
  # scripts/distributed-loadtest.sh; the image's entrypoint uploads the results to S3.
  container_definitions = jsonencode([{
    name                   = "loadgen"
    image                  = var.image
    essential              = true
    readonlyRootFilesystem = true
    # Results are written to a task-local volume before the upload.
    mountPoints = [{ sourceVolume = "results", containerPath = "/results", readOnly = false }]
    environment = [
      { name = "LOADGEN_RESULTS_BUCKET", value = aws_s3_bucket.results.bucket },
      { name = "LOADGEN_HEADER_ENV", value = "apikey=LOADGEN_API_KEY" },
      { name = "AWS_REGION", value = data.aws_region.current.region },
      { name = "LOG_FORMAT", value = "json" },
    ]
    secrets = [{ name = "LOADGEN_API_KEY", valueFrom = var.api_key_secret_arn }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.loadgen.name
        awslogs-region        = data.aws_region.current.region
        awslogs-stream-prefix = "loadgen"
      }
    }
  }])
}
