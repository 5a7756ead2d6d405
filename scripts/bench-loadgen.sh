#!/usr/bin/env bash
# Benchmarks loadgen with its DEFAULT flags (no --threads, its default 64 connections) side by
# side with wrk and oha, interleaved in one run, over plain HTTP and over HTTPS, against nginx on
# loopback ports (a static 200; for HTTPS nginx terminates TLS with a certificate signed by a CA
# made for the run, which loadgen trusts through SSL_CERT_FILE and oha through --cacert; wrk
# does not verify). Each round runs every tool once per scheme, the tools in an order rotated
# (and reversed every other round) from round to round, so that whatever else the machine does
# hits them alike. It prints, per
# scheme: requests/s and CPU per request (the tool's user+sys from /usr/bin/time over its
# successful responses; oha's requests cut off by its deadline are not errors) for each tool,
# median [min, max] over the rounds; the ratios of loadgen to wrk and to oha taken within each
# round, median [min, max]; the CPU that other processes used during the runs (what makes a
# figure noise); and the run's parameters, with the TLS version and cipher each tool negotiated.
# Targets: plain HTTP loadgen >= 1.0x wrk req/s and <= 1.0x wrk CPU per request; HTTPS
# loadgen >= 1.2x oha req/s.
#
# Usage: scripts/bench-loadgen.sh [SECONDS] [ROUNDS]   (each run's length, default 5; rounds,
# default 5: about 2 x 3 x ROUNDS x SECONDS plus startup)
# Environment:
#   BENCH_SCHEMES="http https"  the schemes to measure
#   BENCH_THREADS="1 2"         also run loadgen with --threads N for each N (candidates for the
#                               default), in the same rounds, named lg-tN
#   BENCH_HYPER=1               also run loadgen over plain HTTP with LOADGEN_HTTP1_DRIVER=hyper
#                               (its former HTTP/1.1 path), named lg-hyper
#   BENCH_NGINX_WORKERS=1       nginx worker processes (1: one process, no master)
#   BENCH_WAIT_QUIET=MINUTES    first wait until the 1-minute load average is below
#                               BENCH_QUIET_LOAD (default 0.5), checking every 30 s, at most
#                               MINUTES; then run anyway and say the machine was busy
#   BENCH_MAX_OTHERS=0.1        summarise only the rounds in which other processes used at most
#                               this many CPUs during every run (all rounds when none was)
#   BENCH_EXTRAS=1              afterwards: RSS of a 10 s and a 120 s run at half the default
#                               peak (within 10%), and the open model's achieved rate at
#                               20/50/80% of it (within 1%), plain HTTP
#   BENCH_OUT=DIR               keep the raw results (results.tsv, every tool's output) in DIR
#   BENCH_LOADGEN=PATH          measure this loadgen binary instead of building --release
# Installs nginx and wrk (scripts/deps/apt.sh, Debian's) and oha (cargo install, pinned) when
# missing. Traffic goes to 127.0.0.1 only; everything it starts is stopped on exit.
set -euo pipefail

secs=${1:-5}
rounds=${2:-5}
[[ $secs =~ ^[1-9][0-9]*$ && $rounds =~ ^[1-9][0-9]*$ ]] || {
  echo "usage: $0 [SECONDS] [ROUNDS]  (whole numbers >= 1)" >&2
  exit 64
}
conns=64 # loadgen's default --connections; wrk and oha are given the same
schemes=${BENCH_SCHEMES:-http https}
candidates=${BENCH_THREADS:-}
nginx_workers=${BENCH_NGINX_WORKERS:-1}
quiet_load=${BENCH_QUIET_LOAD:-0.5}
oha_version=1.16.0
for n in $candidates $nginx_workers ${BENCH_WAIT_QUIET:-0}; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "BENCH_THREADS, BENCH_NGINX_WORKERS, BENCH_WAIT_QUIET: whole numbers, not '$n'" >&2; exit 64; }
done
for s in $schemes; do
  [[ $s == http || $s == https ]] || { echo "BENCH_SCHEMES: http and/or https, not '$s'" >&2; exit 64; }
done
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

command -v nginx >/dev/null && command -v wrk >/dev/null || scripts/deps/apt.sh nginx wrk
if [[ ! -x /usr/bin/time ]]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends time >/dev/null
fi
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v oha >/dev/null; then
  echo "installing oha $oha_version (cargo install oha --version $oha_version --locked) ..." >&2
  cargo install oha --version "$oha_version" --locked >&2
fi
for tool in jq openssl python3; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install $tool)" >&2; exit 1; }
done

if [[ -n ${BENCH_LOADGEN:-} ]]; then
  loadgen=$BENCH_LOADGEN
else
  echo "building loadgen (release) ..." >&2
  cargo build --release --locked -p loadgen >&2
  loadgen="$root/target/release/loadgen"
fi

work=$(mktemp -d /tmp/bench-loadgen.XXXXXX)
nginx_pid=""
cleanup() {
  if [[ -n $nginx_pid ]]; then kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null; fi
  if [[ -n ${BENCH_OUT:-} ]]; then mkdir -p "$BENCH_OUT" && cp -r "$work/out/." "$BENCH_OUT/"; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/logs" "$work/tmp" "$work/out" "$work/pki"

# --- a CA made for this run, and nginx's certificate for 127.0.0.1 and localhost signed by it ---
pki=$work/pki
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -keyout "$pki/ca.key" -out "$pki/ca.pem" -subj "/CN=bench-loadgen test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$pki/server.key" -out "$pki/server.csr" -subj "/CN=localhost" 2>/dev/null
printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=critical,CA:FALSE" \
  "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$pki/server.ext"
openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
  -days 2 -extfile "$pki/server.ext" -out "$pki/server.pem" 2>/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http_port=$(free_port)
https_port=$(free_port)
probe_port=$(free_port)
if ((nginx_workers > 1)); then
  procs="master_process on; worker_processes $nginx_workers;"
else
  procs="master_process off;"
fi
cat >"$work/nginx.conf" <<CONF
daemon off;
$procs
worker_rlimit_nofile 65536;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  ssl_certificate $pki/server.pem;
  ssl_certificate_key $pki/server.key;
  ssl_protocols TLSv1.2 TLSv1.3;
  log_format tls '\$ssl_protocol \$ssl_cipher';
  server {
    listen 127.0.0.1:$http_port backlog=4096;
    location / { return 200 "ok\n"; }
  }
  server {
    listen 127.0.0.1:$https_port ssl backlog=4096;
    location / { return 200 "ok\n"; }
  }
  # the same, logging each request's TLS version and cipher: what each client negotiates
  server {
    listen 127.0.0.1:$probe_port ssl;
    access_log $work/logs/tls.log tls;
    location / { return 200 "ok\n"; }
  }
}
CONF
nginx -p "$work" -c "$work/nginx.conf" &
nginx_pid=$!
for port in $http_port $https_port $probe_port; do
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
done
url_of() { if [[ $1 == http ]]; then echo "http://127.0.0.1:$http_port/"; else echo "https://127.0.0.1:$https_port/"; fi; }

# --- what each tool measures with, and how one run of it is read ---
tools=(wrk oha loadgen)
for n in $candidates; do tools+=("lg-t$n"); done
[[ ${BENCH_HYPER:-0} == 1 ]] && tools+=(lg-hyper)

# Sets cmd (the command line, with its environment) and sink (where its stdout goes) for one
# run of TOOL against URL whose result goes to FILE.
tool_cmd() {
  local tool=$1 url=$2 file=$3
  cmd=(env)
  [[ $url == https* ]] && cmd+=("SSL_CERT_FILE=$pki/ca.pem")
  sink=$file
  case $tool in
    wrk) cmd+=(wrk -t"$(nproc)" -c"$conns" -d"${secs}s" "$url") ;;
    oha) cmd+=(oha -z "${secs}s" -c "$conns" --no-tui --output-format json --cacert "$pki/ca.pem" "$url") ;;
    *)
      [[ $tool == lg-hyper ]] && cmd+=(LOADGEN_HTTP1_DRIVER=hyper)
      cmd+=("$loadgen" run "$url" -z "${secs}s" --quiet --json "$file")
      [[ $tool == lg-t* ]] && cmd+=(--threads "${tool#lg-t}")
      sink=/dev/null
      ;;
  esac
}
# Prints "req/s ok_responses errors" from TOOL's output FILE.
read_tool() {
  local tool=$1 file=$2
  case $tool in
    wrk) awk '/requests in/ { n = $1 } /^Requests\/sec:/ { r = $2 } /Non-2xx/ { bad = $NF }
              /Socket errors/ { gsub(",", ""); sock = $4 + $6 + $8 + $10 }
              END { printf "%s %d %d\n", r, n - bad, bad + sock }' "$file" ;;
    oha) jq -r '[.summary.requestsPerSec, (.statusCodeDistribution["200"] // 0),
                 ([.statusCodeDistribution | to_entries[] | select(.key != "200") | .value] | add // 0)
                 + ([.errorDistribution | to_entries[]? | select(.key != "aborted due to deadline") | .value] | add // 0)] | map(tostring) | join(" ")' "$file" ;;
    *) jq -r '"\(.achieved_rate) \(.requests.ok) \(.requests.errors + .requests.timeouts)"' "$file" ;;
  esac
}
# CPU jiffies of nginx (all its processes) and of the whole machine (busy, steal).
nginx_jiffies() {
  local pids=$nginx_pid
  ((nginx_workers > 1)) && pids="$pids $(cat /proc/"$nginx_pid"/task/*/children 2>/dev/null)"
  local total=0 p
  for p in $pids; do
    total=$((total + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
machine_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9 }' /proc/stat; }

# --- the run's parameters ---
load1() { cut -d' ' -f1 /proc/loadavg; }
if [[ ${BENCH_WAIT_QUIET:-0} -gt 0 ]]; then
  deadline=$((SECONDS + BENCH_WAIT_QUIET * 60))
  until awk -v l="$(load1)" -v q="$quiet_load" 'BEGIN { exit !(l < q) }'; do
    if ((SECONDS >= deadline)); then
      echo "the load average stayed at or above $quiet_load for $BENCH_WAIT_QUIET min: measuring anyway (noise)" >&2
      break
    fi
    echo "waiting for a quiet machine: load average $(load1) (want < $quiet_load)" >&2
    sleep 30
  done
fi
hz=$(getconf CLK_TCK)
{
  echo "date:        $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine:     $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(uname -sr)"
  echo "load avg:    $(cut -d' ' -f1-3 /proc/loadavg) at the start"
  if [[ -n ${BENCH_LOADGEN:-} ]]; then
    lg_build=$BENCH_LOADGEN
  else
    lg_build="$(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- loadgen || echo '+changes')"
  fi
  echo "tools:       $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2); $(oha --version); loadgen $("$loadgen" --version | awk '{ print $2 }') ($lg_build)"
  echo "target:      $(nginx -v 2>&1 | cut -d' ' -f3), $nginx_workers worker process(es), static 200 \"ok\\n\", on this machine"
  echo "runs:        $rounds rounds x $secs s per tool and scheme, $conns connections each, order rotated and reversed per round"
  echo "flags:       wrk -t$(nproc) -c$conns -d${secs}s; oha -c $conns -z ${secs}s --cacert CA; loadgen run URL -z ${secs}s (defaults otherwise: $conns connections, threads by its rule)"
} | tee "$work/out/params.txt"

if [[ $schemes == *https* ]]; then
  # One short run of each tool at the logging server: the TLS version and cipher it negotiated.
  for tool in wrk oha loadgen; do
    before=$(wc -l <"$work/logs/tls.log" 2>/dev/null || echo 0)
    url="https://127.0.0.1:$probe_port/"
    case $tool in
      wrk) wrk -t1 -c1 -d1s "$url" >/dev/null ;;
      oha) oha -n 5 -c 1 --no-tui --output-format quiet --cacert "$pki/ca.pem" "$url" >/dev/null ;;
      loadgen) SSL_CERT_FILE=$pki/ca.pem "$loadgen" run "$url" -n 5 -c 1 --quiet >/dev/null || true ;;
    esac
    sleep 0.2
    echo "TLS $tool:$(printf '%*s' $((8 - ${#tool})) '')$(tail -n +$((before + 1)) "$work/logs/tls.log" | sort | uniq -c | sort -rn | head -n 1 | awk '{ print $2, $3 }')"
  done | tee -a "$work/out/params.txt"
fi

# --- the interleaved rounds ---
printf 'scheme\tround\ttool\trps\tok\terrors\tcpu_s\tnginx_s\tothers_cpus\tsteal_cpus\n' >"$work/out/results.tsv"
n=${#tools[@]}
for ((r = 0; r < rounds; r++)); do
  for scheme in $schemes; do
    url=$(url_of "$scheme")
    for ((i = 0; i < n; i++)); do
      # rotated by the round, and reversed every other round: each tool follows each other one
      j=$(((i + r) % n))
      ((r % 2)) && j=$((n - 1 - j))
      tool=${tools[$j]}
      [[ $tool == lg-hyper && $scheme == https ]] && continue
      out="$work/out/$scheme-$r-$tool.out"
      ng0=$(nginx_jiffies)
      read -r busy0 steal0 < <(machine_jiffies)
      t0=$(date +%s.%N)
      tool_cmd "$tool" "$url" "$out"
      /usr/bin/time -f "%U %S" -o "$work/time" "${cmd[@]}" >"$sink" 2>>"$work/out/stderr.txt" || true
      t1=$(date +%s.%N)
      read -r busy1 steal1 < <(machine_jiffies)
      ng1=$(nginx_jiffies)
      cpu=$(tail -n 1 "$work/time" | awk '{ printf "%.3f", $1 + $2 }')
      read -r rps ok errs < <(read_tool "$tool" "$out")
      # CPUs busy with anything but this tool and nginx (other builds, tests), and stolen.
      others=$(awk -v b=$((busy1 - busy0)) -v hz="$hz" -v c="$cpu" -v g=$((ng1 - ng0)) -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
        'BEGIN { o = (b / hz - c - g / hz) / w; printf "%.2f", o < 0 ? 0 : o }')
      steal=$(awk -v s=$((steal1 - steal0)) -v hz="$hz" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", s / hz / (b - a) }')
      nginx_s=$(awk -v g=$((ng1 - ng0)) -v hz="$hz" 'BEGIN { printf "%.3f", g / hz }')
      printf '%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scheme" "$r" "$tool" "$rps" "$ok" "$errs" "$cpu" "$nginx_s" "$others" "$steal" >>"$work/out/results.tsv"
      printf 'round %d %-5s %-8s %10.0f req/s %7.2f us/req  (others %s CPUs, steal %s)\n' "$((r + 1))" "$scheme" "$tool" "$rps" \
        "$(awk -v c="$cpu" -v n="$ok" 'BEGIN { print (n > 0 ? c / n * 1e6 : 0) }')" "$others" "$steal" >&2
    done
  done
done
echo "load avg:    $(cut -d' ' -f1-3 /proc/loadavg) at the end" | tee -a "$work/out/params.txt"

# --- the summary ---
python3 - "$work/out/results.tsv" "${BENCH_MAX_OTHERS:-0.1}" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
limit = float(sys.argv[2])
# A round counts only when no run of it shared the machine with more than `limit` CPUs of other
# work; when no round of a scheme is quiet, all count and the figures are labelled noise.
busy = {(r["scheme"], r["round"]) for r in rows if float(r["others_cpus"]) > limit}
for scheme in dict.fromkeys(r["scheme"] for r in rows):
    mine = [r for r in rows if r["scheme"] == scheme]
    quiet = [r for r in mine if (scheme, r["round"]) not in busy]
    n_all, n_quiet = len({r["round"] for r in mine}), len({r["round"] for r in quiet})
    print(f"\n{scheme}: {n_quiet} of {n_all} rounds quiet (other processes <= {limit} CPUs in every run)"
          + ("" if n_quiet else ": NONE, the figures below are NOISE"))
    if n_quiet:
        rows = [r for r in rows if r["scheme"] != scheme or (scheme, r["round"]) not in busy]
for r in rows:
    r["rps"] = float(r["rps"]); r["ok"] = int(r["ok"]); r["cpu_s"] = float(r["cpu_s"])
    r["us"] = r["cpu_s"] / r["ok"] * 1e6 if r["ok"] else float("nan")
def spread(xs, fmt):
    xs = sorted(xs)
    return f"{fmt.format(statistics.median(xs))} [{fmt.format(xs[0])}, {fmt.format(xs[-1])}]"
targets = {("http", "wrk", "rps"): ">= 1.0", ("http", "wrk", "us"): "<= 1.0", ("https", "oha", "rps"): ">= 1.2"}
for scheme in dict.fromkeys(r["scheme"] for r in rows):
    sr = [r for r in rows if r["scheme"] == scheme]
    tools = list(dict.fromkeys(r["tool"] for r in sr))
    print(f"\n== {scheme}, closed model, {len(set(r['round'] for r in sr))} rounds: median [min, max] ==")
    print(f"{'tool':<9} {'req/s':>26} {'CPU us/request':>22} {'errors':>7}")
    for t in tools:
        tr = [r for r in sr if r["tool"] == t]
        print(f"{t:<9} {spread([r['rps'] for r in tr], '{:,.0f}'):>26} {spread([r['us'] for r in tr], '{:.2f}'):>22} {sum(int(r['errors']) for r in tr):>7}")
    by_round = {}
    for r in sr:
        by_round.setdefault(r["round"], {})[r["tool"]] = r
    print(f"{'ratio, within each round':<30} {'req/s':>22} {'CPU per request':>22}")
    for t in [t for t in tools if t not in ("wrk", "oha")]:
        for ref in ("wrk", "oha"):
            pairs = [(b[t], b[ref]) for b in by_round.values() if t in b and ref in b]
            if not pairs:
                continue
            rps = spread([a["rps"] / b["rps"] for a, b in pairs], "{:.2f}")
            us = spread([a["us"] / b["us"] for a, b in pairs], "{:.2f}")
            goal = "".join(f"  (target {targets[(scheme, ref, k)]} {k == 'rps' and 'req/s' or 'CPU'})"
                           for k in ("rps", "us") if t == "loadgen" and (scheme, ref, k) in targets)
            print(f"{t + ' / ' + ref:<30} {rps:>22} {us:>22}{goal}")
    print(f"other processes: {spread([float(r['others_cpus']) for r in sr], '{:.2f}')} CPUs busy during the runs; "
          f"stolen: {spread([float(r['steal_cpus']) for r in sr], '{:.2f}')} CPUs (above ~0.1: noise)")
PY

[[ ${BENCH_EXTRAS:-0} == 1 ]] || exit 0
url=$(url_of http)
timed() { /usr/bin/time -f "%U %S %M" -o "$work/time" "$@"; }
rss_of() { tail -n 1 "$work/time" | awk '{ print $3 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
peak=$(python3 -c 'import csv,statistics,sys; print(statistics.median(float(r["rps"]) for r in csv.DictReader(open(sys.argv[1]), delimiter="\t") if r["scheme"] == "http" and r["tool"] == "loadgen"))' "$work/out/results.tsv" 2>/dev/null || true)
if [[ -z $peak ]]; then
  "$loadgen" run "$url" -z "${secs}s" --quiet --json "$work/peak.json" >/dev/null || true
  peak=$(jq '.achieved_rate' "$work/peak.json")
fi

# --- memory stays flat: RSS of 10 s vs 120 s at the same rate ---
rss_rate=$(awk -v p="$peak" 'BEGIN { printf "%d", p * 0.5 }')
timed "$loadgen" run "$url" -r "$rss_rate" -z 10s --quiet --json "$work/rss10.json" >/dev/null || true
rss10=$(rss_of)
timed "$loadgen" run "$url" -r "$rss_rate" -z 120s --quiet --json "$work/rss120.json" >/dev/null || true
rss120=$(rss_of)
echo
echo "== memory, open model at $rss_rate req/s =="
echo "max RSS 10 s: ${rss10} KiB ($(jq -r '.requests.total' "$work/rss10.json") requests, $(jq -r .verdict "$work/rss10.json"))" \
  "  120 s: ${rss120} KiB ($(jq -r '.requests.total' "$work/rss120.json") requests, $(jq -r .verdict "$work/rss120.json"))" \
  "  ratio $(ratio "$rss120" "$rss10")   (target within 1.10)"

# --- open model accuracy ---
echo
echo "== open model accuracy (${secs}s each) =="
printf "%-10s %12s %12s %10s %10s %10s %9s\n" "of peak" "target" "achieved" "ratio" "verdict" "lag p99" "gen busy"
for pct in 20 50 80; do
  rate=$(awk -v p="$peak" -v f="$pct" 'BEGIN { printf "%d", p * f / 100 }')
  "$loadgen" run "$url" -r "$rate" -z "${secs}s" --quiet --json "$work/open.json" >/dev/null || true
  achieved=$(jq '.achieved_rate' "$work/open.json")
  printf "%-10s %12d %12.1f %10s %10s %8sms %9s\n" "$pct%" "$rate" "$achieved" "$(awk -v a="$achieved" -v t="$rate" 'BEGIN { printf "%.4f", a / t }')" \
    "$(jq -r '.verdict' "$work/open.json")" "$(jq -r '.self_check.schedule_lag_ms.p99 // "n/a"' "$work/open.json")" \
    "$(jq -r '.self_check.generator_busy // "n/a" | if type == "number" then (. * 100 | floor | tostring) + "%" else . end' "$work/open.json")"
done
