provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Project     = "sum-api"
      Environment = var.environment
      Stack       = "canary"
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

data "terraform_remote_state" "compute" {
  backend = "s3"
  config = {
    bucket = var.state_bucket
    key    = "${var.state_key_prefix}/compute.tfstate"
    region = var.region
  }
}

locals {
  # The canary consumer's quota, read from the gateway policy itself (no second copy): the
  # canary then checks that the gateway announces exactly this RateLimit-Limit.
  kong = yamldecode(file("${path.root}/../../../../gateway/kong.yaml"))
  canary_rate_limit = one(flatten([
    for c in local.kong.consumers : [
      for p in try(c.plugins, []) : p.config.minute if p.name == "rate-limiting" && try(p.config.minute, null) != null
    ] if c.username == "canary"
  ]))
}

module "canary" {
  source                = "../../../modules/canary"
  name_prefix           = local.name_prefix
  environment           = var.environment
  regions               = var.canary_regions
  region_networks       = var.canary_region_networks
  cluster_arn           = data.terraform_remote_state.compute.outputs.cluster_arn
  private_subnet_ids    = data.terraform_remote_state.networking.outputs.private_subnet_ids
  security_group_id     = data.terraform_remote_state.networking.outputs.probe_security_group_id
  image                 = "${data.terraform_remote_state.compute.outputs.repository_urls["canary"]}:${var.image_tag}"
  target_url            = var.gateway_url
  api_key_secret_arn    = data.terraform_remote_state.secrets.outputs.secret_arns["canary-api-key"]
  secrets_kms_key_arn   = data.terraform_remote_state.secrets.outputs.kms_key_arn
  metrics_namespace     = var.metrics_namespace
  schedule_expression   = var.schedule_expression
  rate_limit_per_minute = local.canary_rate_limit
}
