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
. "$(dirname "$0")/../npm-fetch.sh"
hb_npm_need get-cloudevents.sh node npm timeout
hb_npm_workdir "$cache"
hb_npm_run get-cloudevents.sh install --no-audit --no-fund --ignore-scripts "cloudevents@$version"
# Renamed into place whole, so an interrupted or concurrent run never leaves half a cache.
mv -T "$work" "$dir" 2>/dev/null || [ -f "$dir/node_modules/cloudevents/package.json" ]
echo "$dir"
