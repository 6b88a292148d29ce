# Shared by the scripts that fetch a test tool from the npm registry into a cache, once
# (tests/helm/get-helm.sh, tests/e2e/get-cloudevents.sh, tests/openapi/get-redocly.sh).
# shellcheck shell=sh
#
# Every network step is bounded by `timeout`, so a dead registry fails the tests instead
# of hanging them, and no package's install scripts run. A fetch works in a temporary
# directory inside the cache and is renamed into place whole by its caller, so an
# interrupted or concurrent run never leaves half a cache.

# hb_npm_need <script name> <tools...>: exits 1 naming the first tool that is missing.
hb_npm_need() {
    script=$1
    shift
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "$script: $tool is missing (apt-get install npm unzip)" >&2
            exit 1
        fi
    done
}

# hb_npm_workdir <cache dir>: makes the cache and a fresh work directory inside it, removed
# on exit; sets $work.
hb_npm_workdir() {
    mkdir -p "$1"
    work=$(mktemp -d "$1/fetch.XXXXXX")
    trap 'rm -rf "$work"' EXIT INT TERM
}

# hb_npm_run <script name> <npm arguments...>: runs npm in $work within 240 s; on failure
# prints its output and exits 1.
hb_npm_run() {
    script=$1
    shift
    (cd "$work" && timeout 240 npm --silent "$@" >npm.out 2>&1) || {
        echo "$script: npm $* failed:" >&2
        cat "$work/npm.out" >&2
        exit 1
    }
}
