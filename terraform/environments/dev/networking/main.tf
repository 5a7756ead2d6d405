provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Project     = "sum-api"
      Environment = var.environment
      Stack       = "networking"
      ManagedBy   = "terraform"
    }
  }
}

locals {
  name_prefix = "sum-api-${var.environment}"
}

module "networking" {
  source                = "../../../modules/networking"
  name_prefix           = local.name_prefix
  vpc_cidr              = var.vpc_cidr
  az_count              = 2
  single_nat_gateway    = var.single_nat_gateway
  gateway_egress_cidrs  = var.gateway_egress_cidrs
  operator_cidrs        = var.operator_cidrs
  metrics_scraper_cidrs = var.metrics_scraper_cidrs
}
