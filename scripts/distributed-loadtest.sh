#!/usr/bin/env bash
# Runs one load test on N ECS Fargate tasks of the loadgen stack, all starting their schedules at
# the same instant (--start-at), then merges their interval logs exactly with `loadgen merge`.
# Usage:
#   scripts/distributed-loadtest.sh -n N [--env dev] [--start-delay SECONDS] [--timeout SECONDS]
#       [--out DIR] [--slo EXPR ...] [--baseline FILE] -- <loadgen run arguments>
# The run arguments are those of `loadgen run` (URL, --rate per generator, --duration, ...);
# --start-at, --generator-id, --hlog and --json are added per task. --slo and --baseline judge
# the merged result. Needs: aws CLI, terraform, python3, a local `loadgen` (or LOADGEN=path),
# and the loadgen, compute and networking stacks applied (their outputs are read).
# Defaults: --start-delay 90 (Fargate start-up), --timeout 1800, LOADTEST_POLL_SECONDS=15.
# Exit codes: loadgen merge's (0 pass, 2 gate breached, 3 run invalid); 1 a task or AWS call
# failed; 64 usage error.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 64; }

count=""; env_name=dev; start_delay=90; timeout=1800; out=""; judge=()
while (($#)); do
  case $1 in
    -n) [[ $# -ge 2 ]] || usage; count=$2; shift 2 ;;
    --env) [[ $# -ge 2 ]] || usage; env_name=$2; shift 2 ;;
    --start-delay) [[ $# -ge 2 ]] || usage; start_delay=$2; shift 2 ;;
    --timeout) [[ $# -ge 2 ]] || usage; timeout=$2; shift 2 ;;
    --out) [[ $# -ge 2 ]] || usage; out=$2; shift 2 ;;
    --slo|--baseline) [[ $# -ge 2 ]] || usage; judge+=("$1" "$2"); shift 2 ;;
    --) shift; break ;;
    -h|--help) usage ;;
    *) echo "unknown option: $1" >&2; usage ;;
  esac
done
run_args=("$@")
[[ $count =~ ^[0-9]{1,3}$ ]] && ((count >= 1 && count <= 100)) || { echo "-n must be 1..100" >&2; exit 64; }
[[ $start_delay =~ ^[0-9]{1,5}$ ]] && ((start_delay >= 1)) || { echo "--start-delay: whole seconds, at least 1" >&2; exit 64; }
((start_delay >= 30)) || echo "warning: Fargate tasks take 30-90 s to start; a generator that starts after --start-at begins late" >&2
poll=${LOADTEST_POLL_SECONDS:-15}
[[ $poll =~ ^[0-9]{1,3}$ ]] && ((poll >= 1)) || { echo "LOADTEST_POLL_SECONDS: whole seconds, 1-999" >&2; exit 64; }
[[ $timeout =~ ^[0-9]{1,6}$ ]] && ((timeout > start_delay)) || { echo "--timeout: seconds, more than --start-delay" >&2; exit 64; }
((${#run_args[@]})) || { echo "give the loadgen run arguments after --" >&2; exit 64; }
for a in "${run_args[@]}"; do
  case $a in --start-at*|--generator-id*|--hlog*|--json*) echo "$a is set per task; remove it" >&2; exit 64 ;; esac
done
loadgen=${LOADGEN:-loadgen}
for tool in aws terraform python3 "$loadgen"; do
  command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 64; }
done

tf_out() { terraform -chdir="$root/terraform/environments/$env_name/$1" output -raw "$2"; }
tf_json() { terraform -chdir="$root/terraform/environments/$env_name/$1" output -json "$2"; }
cluster=$(tf_out loadgen cluster_name)
task_def=$(tf_out loadgen task_definition_arn)
bucket=$(tf_out loadgen results_bucket)
subnets=$(tf_json networking private_subnet_ids)
security_group=$(tf_out networking probe_security_group_id)

run_id=$(date -u +%Y%m%dT%H%M%SZ)-$$
start_at=$(date -u -d "+${start_delay} seconds" +%Y-%m-%dT%H:%M:%SZ)
out=${out:-$root/out/distributed/$run_id}
mkdir -p "$out"
echo "run $run_id: $count generators starting at $start_at; results in s3://$bucket/runs/$run_id/" >&2

network=$(python3 -c 'import json,sys; print(json.dumps({"awsvpcConfiguration": {"subnets": json.loads(sys.argv[1]), "securityGroups": [sys.argv[2]], "assignPublicIp": "DISABLED"}}))' "$subnets" "$security_group")
tasks=()
for i in $(seq 1 "$count"); do
  id=gen-$i
  overrides=$(python3 - "$run_id" "$id" "$start_at" "${run_args[@]}" <<'PY'
import json, sys
run_id, gen, start_at, *args = sys.argv[1:]
print(json.dumps({"containerOverrides": [{
    "name": "loadgen",
    "command": ["run", *args, "--start-at", start_at],
    "environment": [
        {"name": "LOADGEN_RUN_ID", "value": run_id},
        {"name": "LOADGEN_GENERATOR_ID", "value": gen},
    ],
}]}))
PY
)
  arn=$(aws ecs run-task --cluster "$cluster" --task-definition "$task_def" --launch-type FARGATE \
    --count 1 --network-configuration "$network" --overrides "$overrides" \
    --started-by "distributed-loadtest-$run_id" --query 'tasks[0].taskArn' --output text)
  [[ $arn == arn:* ]] || { echo "RunTask for $id failed: $arn" >&2; exit 1; }
  tasks+=("$arn")
  echo "started $id: $arn" >&2
done

# Wait (bounded) for every task to stop.
deadline=$((SECONDS + timeout))
while :; do
  pending=$(aws ecs describe-tasks --cluster "$cluster" --tasks "${tasks[@]}" \
    --query "length(tasks[?lastStatus!='STOPPED'])" --output text)
  [[ $pending == 0 ]] && break
  if ((SECONDS > deadline)); then
    echo "timed out after ${timeout}s with $pending tasks running; stopping them" >&2
    for t in "${tasks[@]}"; do aws ecs stop-task --cluster "$cluster" --task "$t" --reason "distributed-loadtest timeout" >/dev/null || true; done
    exit 1
  fi
  sleep "$poll"
done

# 0 = pass, 2 = this generator's own gates breached, 3 = this generator invalid: its results
# are still merged (the merged verdict is what counts). Anything else: the generator failed.
failed=0
while read -r arn code reason; do
  case $code in
    0|2|3) ;;
    *) echo "task $arn failed: exit code $code ($reason)" >&2; failed=1 ;;
  esac
done < <(aws ecs describe-tasks --cluster "$cluster" --tasks "${tasks[@]}" \
  --query 'tasks[].[taskArn, containers[0].exitCode, stoppedReason]' --output text)
((failed == 0)) || exit 1

aws s3 cp --recursive --only-show-errors "s3://$bucket/runs/$run_id/" "$out/"
shopt -s nullglob
hlogs=("$out"/*.hlog)
((${#hlogs[@]} == count)) || { echo "expected $count interval logs, found ${#hlogs[@]} in $out" >&2; exit 1; }
set +e
"$loadgen" merge "${hlogs[@]}" "${judge[@]}" --json "$out/merged.json" --html "$out/merged.html"
status=$?
echo "merged report: $out/merged.json, $out/merged.html" >&2
exit $status
