provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Project     = "sum-api"
      Environment = var.environment
      Stack       = "compute"
      ManagedBy   = "terraform"
    }
  }
}

locals {
  name_prefix = "sum-api-${var.environment}"
}

data "terraform_remote_state" "networking" {
  backend = "s3"
  config = {
    bucket = var.state_bucket
    key    = "${var.state_key_prefix}/networking.tfstate"
    region = var.region
  }
}

data "terraform_remote_state" "secrets" {
  backend = "s3"
  config = {
    bucket = var.state_bucket
    key    = "${var.state_key_prefix}/secrets.tfstate"
    region = var.region
  }
}

locals {
  # The repository's data, read in place (alarms/cloudwatch-slo.yaml for the deployment alarms).
  repo_root = "${path.root}/../../../.."
}

# The SLO page burns' long-window alarms (created by the observability stack) that roll a
# deployment back; the module says why these and why read from the file, not from that stack.
module "deployment_alarms" {
  source          = "../../../modules/slo-deployment-alarms"
  slo_alarms_file = "${local.repo_root}/alarms/cloudwatch-slo.yaml"
  name_prefix     = local.name_prefix
}

# origin-secret-alt is looked up, not indexed: a plan of both stacks before the secrets stack
# is applied sees no such entry yet (the module then injects only origin-secret).
module "compute" {
  source                    = "../../../modules/compute"
  name_prefix               = local.name_prefix
  vpc_id                    = data.terraform_remote_state.networking.outputs.vpc_id
  public_subnet_ids         = data.terraform_remote_state.networking.outputs.public_subnet_ids
  private_subnet_ids        = data.terraform_remote_state.networking.outputs.private_subnet_ids
  alb_security_group_id     = data.terraform_remote_state.networking.outputs.alb_security_group_id
  service_security_group_id = data.terraform_remote_state.networking.outputs.service_security_group_id
  origin_secret_arn         = data.terraform_remote_state.secrets.outputs.secret_arns["origin-secret"]
  origin_secret_alt_arn     = lookup(data.terraform_remote_state.secrets.outputs.secret_arns, "origin-secret-alt", null)
  secrets_kms_key_arn       = data.terraform_remote_state.secrets.outputs.kms_key_arn
  certificate_arn           = var.certificate_arn
  image_tag                 = var.image_tag
  desired_count             = var.min_count
  min_count                 = var.min_count
  max_count                 = var.max_count
  requests_per_target       = var.requests_per_target
  deletion_protection       = var.deletion_protection
  access_logs_bucket        = var.access_logs_bucket
  deployment_alarm_names    = module.deployment_alarms.alarm_names
}
