#!/usr/bin/env bash
# Runs bench/saga_load.py against the ./run.sh stack of one checkout, on its own
# ports and data dir, and prints "<label> <saga_load's JSON line>".
#
#   bench/saga_against.sh <checkout> <label> <http port> [saga_load args...]
#
# Comparing two commits in one run, alternating, with the broker's messages and each
# process's CPU per order: bench/compare.sh (docs/PERFORMANCE.md, "How to compare two commits").
# The broker takes the http port + 1. Arguments after the port go to saga_load.py (the
# last --orders wins over the default 2000).
set -euo pipefail
tree=$(cd "$1" && pwd)
label=$2
port=$3
shift 3
load=${HB_SAGA_LOAD:-$(cd "$(dirname "$0")" && pwd)/saga_load.py}
data=$(mktemp -d /tmp/hausbus-bench-XXXXXX)
export HAUSBUS_HTTP_PORT=$port HAUSBUS_MQTT_PORT=$((port + 1)) HAUSBUS_DATA_DIR=$data
export HAUSBUS_LOG_LEVEL=warn
(cd "$tree" && exec ./run.sh) >"$data/run.log" 2>&1 &
run_pid=$!
trap 'kill -TERM $run_pid 2>/dev/null; wait $run_pid 2>/dev/null; rm -rf "$data"' EXIT
# Up: every component online in /healthz (bounded: 60 s).
for _ in $(seq 300); do
    if curl -sf "http://127.0.0.1:$port/healthz" 2>/dev/null | python3 -c '
import json, sys
comps = json.load(sys.stdin).get("components", {})
names = ("order", "product", "payment", "delivery", "notification", "view")
sys.exit(0 if all(comps.get(n) == "online" for n in names) else 1)' 2>/dev/null; then
        break
    fi
    sleep 0.2
done
pgrep -f "$tree/build/bin/hausbus" >"$data/pids"
broker=$(pgrep -f "mosquitto -c $data/broker" | head -n 1)
python3 "$load" --url "http://127.0.0.1:$port" --orders 2000 --concurrency 32 \
    --pids-file "$data/pids" --broker-pid "$broker" "$@" >"$data/load.out" 2>&1 || {
    cat "$data/load.out" >&2
    exit 1
}
echo "$label $(tail -n 1 "$data/load.out")"
