terraform {
  required_version = ">= 1.11.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0, < 7.0"
    }
  }
  # bucket, key and region come from -backend-config (scripts/deploy.sh passes
  # key=<state_key_prefix>/loadgen.tfstate); S3's native lock file, no DynamoDB table.
  backend "s3" {
    use_lockfile = true
    encrypt      = true
  }
}
