provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Project     = "sum-api"
      Environment = var.environment
      Stack       = "secrets"
      ManagedBy   = "terraform"
    }
  }
}

locals {
  name_prefix = "sum-api-${var.environment}"
}

module "secrets" {
  source           = "../../../modules/secrets"
  name_prefix      = local.name_prefix
  secret_version   = var.secret_version
  secret_rotations = var.secret_rotations
}
