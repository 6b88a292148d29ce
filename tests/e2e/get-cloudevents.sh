#!/bin/sh
# Fetches the CloudEvents JavaScript SDK (npm package cloudevents) into a cache, once.
#
# Prints the directory holding its node_modules on stdout. The first run needs npm and the
# npm registry; later runs only check the cache. The fetch is bounded by `timeout` and runs
# no install scripts.
set -eu

version='8.0.3'
cache="${HAUSBUS_CLOUDEVENTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hausbus-cloudevents}"
dir="$cache/$version"

if [ -f "$dir/node_modules/cloudevents/package.json" ]; then
    echo "$dir"
    exit 0
fi
for tool in node npm timeout; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "get-cloudevents.sh: $tool is missing" >&2
        exit 1
    fi
done
mkdir -p "$cache"
work=$(mktemp -d "$cache/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
(cd "$work" && timeout 240 npm install --silent --no-audit --no-fund --ignore-scripts \
    "cloudevents@$version" >install.out 2>&1) || {
    echo "get-cloudevents.sh: npm install cloudevents@$version failed:" >&2
    cat "$work/install.out" >&2
    exit 1
}
# Renamed into place whole, so an interrupted or concurrent run never leaves half a cache.
mv -T "$work" "$dir" 2>/dev/null || [ -f "$dir/node_modules/cloudevents/package.json" ]
echo "$dir"
