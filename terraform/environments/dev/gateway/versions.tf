terraform {
  required_version = ">= 1.11.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0, < 7.0"
    }
    konnect = {
      source  = "kong/konnect"
      version = ">= 3.0, < 4.0"
    }
  }
  # bucket, key and region come from -backend-config (key=<state_key_prefix>/gateway.tfstate);
  # S3's native lock file, no DynamoDB table.
  backend "s3" {
    use_lockfile = true
    encrypt      = true
  }
}
