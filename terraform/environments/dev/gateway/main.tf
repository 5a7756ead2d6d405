provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Project     = "sum-api"
      Environment = var.environment
      Stack       = "gateway"
      ManagedBy   = "terraform"
    }
  }
}

provider "konnect" {
  server_url                  = var.konnect_server_url
  system_account_access_token = var.konnect_token
}

data "terraform_remote_state" "compute" {
  backend = "s3"
  config = {
    bucket = var.state_bucket
    key    = "${var.state_key_prefix}/compute.tfstate"
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

# The values behind kong.yaml's {vault://env/...} references. They end up in this stack's
# state (encrypted S3 bucket) because Konnect needs key-auth keys as plain values.
data "aws_secretsmanager_secret_version" "policy" {
  for_each  = toset(local.references)
  secret_id = data.terraform_remote_state.secrets.outputs.secret_arns[local.entry[each.value]]
}

locals {
  policy = yamldecode(file(var.policy_file))
  # Every {vault://env/<name>} of kong.yaml, each read from the secrets stack's entry <name>.
  renames    = { for r in var.entry_renames : r.reference => r.entry }
  entry      = { for r in local.references : r => lookup(local.renames, r, r) }
  references = distinct([for m in regexall("\\{vault://env/([A-Za-z0-9_-]+)\\}", file(var.policy_file)) : m[0]])
}

# Every reference kong.yaml makes must have a Secrets Manager entry; fail the plan otherwise.
resource "terraform_data" "policy_references" {
  input = local.references
  lifecycle {
    precondition {
      condition = alltrue([
        for r in local.references :
        contains(keys(data.terraform_remote_state.secrets.outputs.secret_arns), local.entry[r])
      ])
      error_message = "gateway/kong.yaml references a {vault://env/...} name without a Secrets Manager entry in the secrets stack (see entry_renames)."
    }
  }
}

module "gateway" {
  source           = "../../../modules/gateway"
  control_plane_id = var.control_plane_id
  policy           = local.policy
  upstream_host    = data.terraform_remote_state.compute.outputs.alb_dns_name
  secrets          = { for ref, v in data.aws_secretsmanager_secret_version.policy : ref => v.secret_string }
}
