# Used by run.sh: keeps one program running as systemd's Restart=always would, with a
# short backoff, and stops it cleanly on SIGTERM.
# shellcheck shell=bash

# The first restart waits HB_RESTART_MIN_MS, each further one twice as long up to
# HB_RESTART_MAX_MS, so a program that crashes at start costs one start per few seconds,
# not a core. A run that lasted HB_RESTART_RESET_MS counts as healthy: the next crash
# waits the minimum again.
HB_RESTART_MIN_MS=500
HB_RESTART_MAX_MS=4000
HB_RESTART_RESET_MS=10000
# On SIGTERM: how long a program gets to stop before SIGKILL (it says goodbye to the
# broker, sqlite commits, the KakaoTalk sender finishes its attempt: 3 s by default).
HB_STOP_GRACE_S=10

# hb_log_line <level> <msg> [extra JSON members]: one JSON line on stderr, in the
# programs' own log format (lib/src/log.c), from component "run.sh". msg must not
# contain quotes or backslashes.
hb_log_line() {
    printf '{"time":"%s","level":"%s","component":"run.sh","msg":"%s"%s}\n' \
        "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$1" "$2" "${3:+,$3}" >&2
}

# hb_now_ms: milliseconds since the epoch, without a fork.
hb_now_ms() {
    local now=${EPOCHREALTIME/[.,]/}
    echo $((now / 1000))
}

# hb_ended_how <wait status>: "exit status N" or "signal NAME" (bash reports a death by
# signal N as 128+N; our programs exit 0, 1 or 2).
hb_ended_how() {
    if [ "$1" -gt 128 ]; then
        echo "signal $(kill -l $(($1 - 128)) 2>/dev/null || echo $(($1 - 128)))"
    else
        echo "exit status $1"
    fi
}

# hb_supervise <name> <command...>: runs in a background subshell of run.sh. Starts the
# command, in a session of its own (a Ctrl-C in the terminal reaches run.sh only, which
# stops everything in order), and restarts it whenever it ends, logging each restart.
# On SIGTERM it restarts nothing more: it sends the program SIGTERM, gives it
# HB_STOP_GRACE_S to exit (then SIGKILL), reaps it and returns 0.
hb_supervise() {
    local name=$1
    shift
    local stopping=0 child status started_ms up_ms delay_ms=$HB_RESTART_MIN_MS timer ended
    # The trap also stops the child: a TERM that lands between the start and the wait
    # below runs its trap before the wait begins, and that wait would never end (the
    # child is in its own session, nobody else signals it).
    child=
    trap 'stopping=1; [ -z "$child" ] || kill -TERM "$child" 2>/dev/null' TERM
    trap '' INT
    while [ "$stopping" = 0 ]; do
        started_ms=$(hb_now_ms)
        setsid "$@" </dev/null &
        child=$!
        [ "$stopping" = 0 ] || break # TERM while starting, before child was known
        status=0
        wait "$child" || status=$?
        [ "$stopping" = 0 ] || break # the TERM interrupted the wait: the child may run
        up_ms=$(($(hb_now_ms) - started_ms))
        if [ "$up_ms" -ge "$HB_RESTART_RESET_MS" ]; then
            delay_ms=$HB_RESTART_MIN_MS
        fi
        hb_log_line warn "$name ended ($(hb_ended_how "$status")) after $up_ms ms; restarting in $delay_ms ms" \
            "\"program\":\"$name\",\"ended\":\"$(hb_ended_how "$status")\",\"delayMs\":$delay_ms"
        sleep "$((delay_ms / 1000)).$(printf '%03d' $((delay_ms % 1000)))" &
        timer=$!
        wait "$timer" || true
        kill "$timer" 2>/dev/null || true
        wait "$timer" 2>/dev/null || true
        delay_ms=$((delay_ms * 2 > HB_RESTART_MAX_MS ? HB_RESTART_MAX_MS : delay_ms * 2))
        child=
    done
    if [ -n "$child" ] && kill -TERM "$child" 2>/dev/null; then
        sleep "$HB_STOP_GRACE_S" &
        timer=$!
        ended=
        while [ -z "$ended" ]; do # a repeated SIGTERM interrupts the wait without a pid
            wait -n -p ended "$child" "$timer" || true
        done
        if [ "$ended" = "$timer" ]; then
            hb_log_line error "$name did not stop within $HB_STOP_GRACE_S s; killing it" \
                "\"program\":\"$name\""
            kill -KILL "$child" 2>/dev/null || true
            wait "$child" 2>/dev/null || true
        else
            kill "$timer" 2>/dev/null || true
            wait "$timer" 2>/dev/null || true
        fi
    fi
    return 0
}
