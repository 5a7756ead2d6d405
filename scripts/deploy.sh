#!/usr/bin/env bash
# Applies the Terraform stacks of one environment in dependency order, each with its own S3
# state (native lock file). Usage:
#   scripts/deploy.sh [--env dev] [--plan] [--print-order] [-h|--help] [STACK ...]
# STACK: any of the stacks below (default: all, in order). --plan plans without applying.
# --print-order prints the order and exits (used by the tests).
# Needs: terraform >= 1.11, AWS credentials (in CI: OIDC role), TF_STATE_BUCKET, and each root's
# variables in terraform.tfvars (see terraform.tfvars.example) or TF_VAR_* variables.
# Env: TF_STATE_BUCKET (required), TF_STATE_REGION (default $AWS_REGION or eu-west-1),
#      TF_STATE_KEY_PREFIX (default sum-api/<env>).
# Exit codes: 0 done, 1 a terraform command failed, 64 usage error.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# Dependency order: each stack reads only the states of stacks before it (terraform_remote_state).
# observability comes last: it renders alarms and dashboards from the ALB, ECS and canary outputs.
ORDER=(networking secrets compute gateway canary loadgen observability)

# The header above is the usage text: --help prints it on stdout and exits 0; a usage error
# prints it on stderr and exits 64.
usage() { awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$0"; }
bad_usage() { usage >&2; exit 64; }

env_name=dev
mode=apply
wanted=()
while (($#)); do
  case $1 in
    --env) [[ $# -ge 2 ]] || bad_usage; env_name=$2; shift 2 ;;
    --plan) mode=plan; shift ;;
    --print-order) printf '%s\n' "${ORDER[@]}"; exit 0 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "unknown option: $1" >&2; bad_usage ;;
    *) wanted+=("$1"); shift ;;
  esac
done
[[ $env_name =~ ^[a-z][a-z0-9-]{1,15}$ ]] || { echo "invalid --env: $env_name" >&2; exit 64; }
for s in "${wanted[@]}"; do
  [[ " ${ORDER[*]} " == *" $s "* ]] || { echo "unknown stack: $s (stacks: ${ORDER[*]})" >&2; exit 64; }
done
((${#wanted[@]})) || wanted=("${ORDER[@]}")

[[ -d $root/terraform/environments/$env_name ]] || {
  echo "no environment $env_name: create terraform/environments/$env_name from dev (same stacks, its own tfvars)" >&2
  exit 64
}
: "${TF_STATE_BUCKET:?set TF_STATE_BUCKET to the S3 bucket holding the Terraform states}"
state_region=${TF_STATE_REGION:-${AWS_REGION:-eu-west-1}}
key_prefix=${TF_STATE_KEY_PREFIX:-sum-api/$env_name}
# Stacks that read other stacks' state get the same bucket and prefix (ignored by the others).
export TF_VAR_state_bucket=$TF_STATE_BUCKET TF_VAR_state_key_prefix=$key_prefix TF_VAR_environment=$env_name
export TF_IN_AUTOMATION=1 TF_INPUT=0

for stack in "${ORDER[@]}"; do
  [[ " ${wanted[*]} " == *" $stack "* ]] || continue
  dir=$root/terraform/environments/$env_name/$stack
  if [[ ! -d $dir ]]; then
    echo "==> $stack: no $dir, skipped" >&2
    continue
  fi
  echo "==> $stack ($mode)" >&2
  terraform -chdir="$dir" init -input=false -reconfigure \
    -backend-config="bucket=$TF_STATE_BUCKET" \
    -backend-config="key=$key_prefix/$stack.tfstate" \
    -backend-config="region=$state_region" >&2
  if [[ $mode == plan ]]; then
    terraform -chdir="$dir" plan -input=false -lock-timeout=5m
  else
    terraform -chdir="$dir" apply -input=false -lock-timeout=5m -auto-approve
  fi
done
