#!/usr/bin/env bash
# Builds the hausbus container image: localhost/hausbus:<version> from
# container/Containerfile (multi-stage: compile on Debian bookworm, run on a minbase
# bookworm with only the runtime libraries, mosquitto and the executables).
# Needs root (podman builds as root here). No registry is needed: the Debian base image
# is made locally with debootstrap once and cached as localhost/debian:bookworm.
#
# Usage: scripts/build-image.sh [version]      (default: the project version from CMakeLists.txt)
# Env:   HB_IMAGE_BUILD_TIMEOUT (seconds, default 1200), HB_DEBIAN_MIRROR
set -euo pipefail
HB_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$HB_ROOT"

version=${1:-$(sed -n 's/^project([^)]*VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt | head -n1)}
version=${version:-latest}
image=localhost/hausbus:$version
base=localhost/debian:bookworm
timeout_s=${HB_IMAGE_BUILD_TIMEOUT:-1200}
mirror=${HB_DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { echo "build-image: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    log "needs root (podman builds as root on this machine); run: sudo $0 $*"
    exit 1
fi

# 1. Tools (catatonit: podman builds the pods' local pause image with it).
missing=()
for p in podman runc debootstrap catatonit; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get update -qq || log "apt-get update reported errors; going on with the indexes it has"
    timeout 900 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. Runtime settings that work on this machine (crun fails on cgroups; ulimits explicit).
#    Only these keys are written, and only when absent.
conf=/etc/containers/containers.conf
mkdir -p /etc/containers
touch "$conf"
ensure_key() { # section key value
    local section=$1 key=$2 value=$3
    if grep -Eq "^[[:space:]]*${key}[[:space:]]*=" "$conf"; then
        return 0
    fi
    if grep -Eq "^[[:space:]]*\[$section\][[:space:]]*$" "$conf"; then
        sed -i "/^[[:space:]]*\[$section\][[:space:]]*$/a $key = $value" "$conf"
    else
        printf '\n[%s]\n%s = %s\n' "$section" "$key" "$value" >>"$conf"
    fi
    log "set [$section] $key in $conf"
}
ensure_key containers default_ulimits '["nofile=1024:1024", "nproc=1024:1024"]'
ensure_key engine runtime '"runc"'

# 3. The base image, once.
if podman image exists "$base"; then
    log "$base exists (cached)"
else
    rootfs=$(mktemp -d /tmp/hausbus-debootstrap.XXXXXX)
    trap 'rm -rf "$rootfs"' EXIT
    log "debootstrap --variant=minbase bookworm (once)"
    timeout 900 debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/tmp/hausbus-debootstrap.log 2>&1 \
        || { log "debootstrap failed, see /tmp/hausbus-debootstrap.log"; exit 1; }
    # apt caches and lists are not part of the base.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | podman import - "$base" >/dev/null
    rm -rf "$rootfs"
    trap - EXIT
    log "imported $base"
fi

# 4. The image.
start=$(date +%s)
log "podman build -t $image (timeout ${timeout_s}s)"
timeout "$timeout_s" podman build --pull=never -t "$image" \
    --build-arg HB_VERSION="$version" -f container/Containerfile .
podman tag "$image" localhost/hausbus:latest
end=$(date +%s)

size_bytes=$(podman image inspect --format '{{.Size}}' "$image")
size_mb=$(awk -v b="$size_bytes" 'BEGIN { printf "%.1f", b / 1000000 }')
log "built $image in $((end - start)) s"
echo "image $image size ${size_mb} MB (${size_bytes} bytes)"
