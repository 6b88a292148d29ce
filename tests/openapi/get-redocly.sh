#!/bin/sh
# Fetches the OpenAPI linter @redocly/cli (one self-contained npm package) into a cache, once.
#
# Prints the path of its cli.js on stdout (run it with node). The first run needs npm and
# the npm registry; later runs only check the cache. The network step is bounded by
# `timeout` so a dead registry fails the test instead of hanging it.
set -eu

pkg='@redocly/cli@2.77.0' # pinned: a new rule in a later version must not fail old commits
cache="${HAUSBUS_REDOCLY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hausbus-redocly}"
cli="$cache/package/bin/cli.js"

if [ -f "$cli" ]; then
    echo "$cli"
    exit 0
fi
. "$(dirname "$0")/../npm-fetch.sh"
hb_npm_need get-redocly.sh npm node tar timeout
hb_npm_workdir "$cache"
# pack only downloads the tarball; the package bundles its dependencies, so unpacking it
# is the whole install.
hb_npm_run get-redocly.sh pack "$pkg"
tar -xzf "$work"/*.tgz -C "$work"
node "$work/package/bin/cli.js" --version >/dev/null
# -T refuses to nest into a directory a concurrent run has just installed: then use that one.
mv -T "$work/package" "$cache/package" 2>/dev/null || [ -f "$cli" ]
echo "$cli"
