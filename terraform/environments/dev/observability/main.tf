provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Project     = "sum-api"
      Environment = var.environment
      Stack       = "observability"
      ManagedBy   = "terraform"
    }
  }
}

locals {
  name_prefix = "sum-api-${var.environment}"
}

data "terraform_remote_state" "compute" {
  backend = "s3"
  config = {
    bucket = var.state_bucket
    key    = "${var.state_key_prefix}/compute.tfstate"
    region = var.region
  }
}

data "terraform_remote_state" "canary" {
  backend = "s3"
  config = {
    bucket = var.state_bucket
    key    = "${var.state_key_prefix}/canary.tfstate"
    region = var.region
  }
}

locals {
  # The repository's data, read in place: no copy of an alarm or a dashboard lives in terraform/.
  repo_root = "${path.root}/../../../.."
}

module "observability" {
  source                  = "../../../modules/observability"
  name_prefix             = local.name_prefix
  environment             = var.environment
  alarms_file             = "${local.repo_root}/alarms/cloudwatch.yaml"
  slo_alarms_file         = "${local.repo_root}/alarms/cloudwatch-slo.yaml"
  dashboards_dir          = "${local.repo_root}/dashboards/cloudwatch"
  runbook_base_url        = var.runbook_base_url
  alb_arn_suffix          = data.terraform_remote_state.compute.outputs.alb_arn_suffix
  target_group_arn_suffix = data.terraform_remote_state.compute.outputs.target_group_arn_suffix
  cluster_name            = data.terraform_remote_state.compute.outputs.cluster_name
  service_name            = data.terraform_remote_state.compute.outputs.service_name
  service_log_group       = data.terraform_remote_state.compute.outputs.service_log_group
  canary_log_group        = data.terraform_remote_state.canary.outputs.log_group
  canary_namespace        = data.terraform_remote_state.canary.outputs.metrics_namespace
  canary_regions          = data.terraform_remote_state.canary.outputs.regions
  canary_quorum           = var.canary_quorum
  canary_target_host      = data.terraform_remote_state.canary.outputs.target_host
  page_subscriptions      = var.page_subscriptions
  ticket_subscriptions    = var.ticket_subscriptions
}
