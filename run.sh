#!/usr/bin/env bash
# Installs what is missing, builds, and runs mosquitto, every component and the gateway
# on this machine until Ctrl-C or SIGTERM, then stops them all cleanly. With
# HAUSBUS_ALLINONE=1 the components and the gateway run as one hausbus process.
# A process that dies is started again after a short backoff (scripts/supervise.sh), the
# broker included; each restart is logged. HAUSBUS_BUILD_DIR (default build/),
# HAUSBUS_MQTT_PORT, HAUSBUS_HTTP_PORT and HAUSBUS_DATA_DIR (default var/) let a test run
# it against its own build on free ports (tests/fault/test_run_sh.py).
# HAUSBUS_BROKER_SYS_INTERVAL=N makes the broker publish its $SYS counters every N s
# (bench/compare.sh reads them); unset keeps mosquitto's default, 10 s.
set -euo pipefail
HB_ROOT=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/common.sh
. "$HB_ROOT/scripts/common.sh"
# shellcheck source=scripts/supervise.sh
. "$HB_ROOT/scripts/supervise.sh"

HB_BUILD_DIR=${HAUSBUS_BUILD_DIR:-$HB_ROOT/build}
hb_install_deps
hb_build_programs "$HB_BUILD_DIR"

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
if [ -n "${HAUSBUS_BROKER_SYS_INTERVAL:-}" ]; then
    case $HAUSBUS_BROKER_SYS_INTERVAL in
        *[!0-9]*)
            hb_log_line error "HAUSBUS_BROKER_SYS_INTERVAL must be a number of seconds"
            exit 2
            ;;
    esac
    echo "sys_interval $HAUSBUS_BROKER_SYS_INTERVAL" >>"$HAUSBUS_DATA_DIR/broker/mosquitto.conf"
fi

supervisors=()
broker_supervisor=
stop_all() {
    trap - INT TERM EXIT
    hb_log_line info "stopping"
    # Gateway and components first, so they say "offline" while the broker still listens;
    # the broker last, so it writes its persistence file. Each supervisor restarts nothing
    # more once told to stop.
    for pid in "${supervisors[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${supervisors[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "$broker_supervisor" ]; then
        kill -TERM "$broker_supervisor" 2>/dev/null || true
        wait "$broker_supervisor" 2>/dev/null || true
    fi
    hb_log_line info "stopped"
    exit 0
}
trap stop_all INT TERM EXIT

hb_supervise mosquitto mosquitto -c "$HAUSBUS_DATA_DIR/broker/mosquitto.conf" &
broker_supervisor=$!
sleep 0.3
programs=("${HB_SERVICES[@]}")
if [ "${HAUSBUS_ALLINONE:-0}" = 1 ]; then
    programs=(hausbus)
fi
for program in "${programs[@]}"; do
    hb_supervise "$program" "$HB_BUILD_DIR/bin/$program" &
    supervisors+=($!)
done

hb_log_line info "hausbus is up: http://127.0.0.1:$HAUSBUS_HTTP_PORT/healthz (bus: mosquitto_sub -p $HAUSBUS_MQTT_PORT -v -t 'hausbus/#'); a process that dies is restarted; Ctrl-C stops"
# The supervisors never end by themselves: this waits for Ctrl-C or SIGTERM.
wait
