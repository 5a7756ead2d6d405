provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Project     = "sum-api"
      Environment = var.environment
      Stack       = "loadgen"
      ManagedBy   = "terraform"
    }
  }
}

locals {
  name_prefix = "sum-api-${var.environment}"
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

module "loadgen" {
  source              = "../../../modules/loadgen"
  name_prefix         = local.name_prefix
  image               = "${data.terraform_remote_state.compute.outputs.repository_urls["loadgen"]}:${var.image_tag}"
  api_key_secret_arn  = data.terraform_remote_state.secrets.outputs.secret_arns["loadgen-api-key"]
  secrets_kms_key_arn = data.terraform_remote_state.secrets.outputs.kms_key_arn
}
