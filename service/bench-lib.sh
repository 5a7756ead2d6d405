# Shared by service/bench.sh and service/bench-ab.sh (sourced, not run): the tools check, CPU
# pinning, free ports, CPU time of a process, a work directory whose servers are stopped on
# exit, and the wrk script both send (POST /api/v1/sum with 10 numbers).
command -v wrk >/dev/null || { echo "wrk is missing: run scripts/deps/apt.sh (Debian package wrk)" >&2; exit 1; }
pin() { if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then taskset -c "$1" "${@:2}"; else "${@:2}"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# utime + stime of a process, in clock ticks (`getconf CLK_TCK` per second).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

sum_body='{"numbers":[1.5,2.25,3,4.125,5,6.5,7,8.75,9,10]}'
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$sum_body'
wrk.headers["Content-Type"] = "application/json"
LUA
