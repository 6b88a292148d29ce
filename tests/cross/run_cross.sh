#!/usr/bin/env bash
# One board profile end to end (ctest label cross): cross build, unit tests under qemu-user,
# then the e2e saga flows with its programs under qemu against the host's mosquitto.
#
#   tests/cross/run_cross.sh <profile> [e2e test modules...]
#
# Exits 77 (ctest: skipped) when not root: the first run installs the cross compiler and
# qemu-user and adds the target architecture to apt.
set -euo pipefail
HB_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/common.sh
. "$HB_ROOT/scripts/common.sh"

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: the cross tests need root: scripts/cross-build.sh installs the cross" \
         "compiler and qemu-user with apt and adds the target architecture to dpkg"
    exit 77
fi
[ $# -ge 1 ] || { echo "usage: $0 <profile> [e2e test modules...]" >&2; exit 2; }
profile=$1
shift
toolchain=$HB_ROOT/board/$profile/toolchain.cmake
build=$HB_ROOT/build-$profile

start=$(date +%s)
"$HB_ROOT/scripts/cross-build.sh" "$profile"
echo "== $profile: build done after $(( $(date +%s) - start )) s"

# Every unit test of the cross tree, each under CMAKE_CROSSCOMPILING_EMULATOR.
ctest --test-dir "$build" -L unit --output-on-failure -j 2 --timeout 120
echo "== $profile: unit tests under qemu done after $(( $(date +%s) - start )) s"

[ $# -ge 1 ] || exit 0
arch=$(hb_toolchain_fact "$toolchain" HB_DEBIAN_ARCH)
qemu=$(hb_toolchain_fact "$toolchain" HB_QEMU)
# The flows run with the profile's own settings, so a value there that a program rejects,
# or that breaks the saga (two HTTP threads, batched commits), fails here. The harness
# keeps what makes a test private: loopback address, ports, temp data dir, open auth.
while IFS='=' read -r name value; do
    case $name in
        HAUSBUS_HTTP_BIND | HAUSBUS_MQTT_HOST | HAUSBUS_DATA_DIR | HAUSBUS_AUTH) ;;
        HAUSBUS_*) export "$name=$value" ;;
    esac
done < <(grep -E '^HAUSBUS_[A-Z0-9_]+=' "$HB_ROOT/board/$profile/defaults.env")
# Emulation makes each hop a few times slower; the harness scales its waits, not the flows.
cd "$HB_ROOT/tests/e2e"
HAUSBUS_BIN_DIR=$build/bin \
HAUSBUS_LAUNCHER="$qemu -L $HB_ROOT/build-sysroot/$arch" \
HAUSBUS_TIMEOUT_SCALE=${HAUSBUS_TIMEOUT_SCALE:-4} \
PYTHONDONTWRITEBYTECODE=1 \
    python3 -m unittest -v "$@"
echo "== $profile: e2e under qemu done after $(( $(date +%s) - start )) s"
