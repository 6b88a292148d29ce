#!/usr/bin/env bash
# Installs what is missing, builds, and runs mosquitto, every component and the gateway
# on this machine until Ctrl-C or SIGTERM, then stops them all cleanly. With
# HAUSBUS_ALLINONE=1 the components and the gateway run as one hausbus process.
set -euo pipefail
HB_ROOT=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/common.sh
. "$HB_ROOT/scripts/common.sh"

hb_install_deps
hb_build_programs "$HB_ROOT/build"

export HAUSBUS_MQTT_HOST=${HAUSBUS_MQTT_HOST:-127.0.0.1}
export HAUSBUS_MQTT_PORT=${HAUSBUS_MQTT_PORT:-1883}
export HAUSBUS_HTTP_PORT=${HAUSBUS_HTTP_PORT:-8080}
export HAUSBUS_DATA_DIR=${HAUSBUS_DATA_DIR:-$HB_ROOT/var}
# Local development: the gateway asks for no bearer tokens and logs a warning saying so.
# Set HAUSBUS_AUTH=on with HAUSBUS_AUTH_SECRET (32+ bytes) to run it as deployed; mint
# tokens with build/bin/hausbus-token (docs/SECURITY.md).
export HAUSBUS_AUTH=${HAUSBUS_AUTH:-open}
# Private like the components' files (docs/SECURITY.md): the broker persists every queued message.
(umask 077 && mkdir -p "$HAUSBUS_DATA_DIR/broker")

sed -e "s/^listener 1883 /listener $HAUSBUS_MQTT_PORT /" \
    -e "s|^persistence_location .*|persistence_location $HAUSBUS_DATA_DIR/broker/|" \
    "$HB_ROOT/broker/mosquitto.conf" >"$HAUSBUS_DATA_DIR/broker/mosquitto.conf"
# Started as root, mosquitto drops to user "mosquitto", which cannot write our data dir.
echo "user $(id -un)" >>"$HAUSBUS_DATA_DIR/broker/mosquitto.conf"

pids=()
broker_pid=
stop_all() {
    trap - INT TERM EXIT
    echo "stopping..." >&2
    # Gateway and components first, so they say "offline" while the broker still listens;
    # the broker last, so it writes its persistence file.
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "$broker_pid" ]; then
        kill -TERM "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
    fi
    echo "stopped" >&2
}
trap stop_all INT TERM EXIT

mosquitto -c "$HAUSBUS_DATA_DIR/broker/mosquitto.conf" &
broker_pid=$!
sleep 0.3
programs=("${HB_SERVICES[@]}")
if [ "${HAUSBUS_ALLINONE:-0}" = 1 ]; then
    programs=(hausbus)
fi
for program in "${programs[@]}"; do
    "$HB_ROOT/build/bin/$program" &
    pids+=($!)
done

echo "hausbus is up: http://127.0.0.1:$HAUSBUS_HTTP_PORT/healthz (bus: mosquitto_sub -p $HAUSBUS_MQTT_PORT -v -t 'hausbus/#'); Ctrl-C stops" >&2
# Any process dying takes the whole stack down, so a broken run is never half up.
wait -n "$broker_pid" "${pids[@]}" || true
