#!/usr/bin/env bash
# Builds hausbus for one board profile into build-<profile>/ and prints stripped sizes.
#
#   scripts/cross-build.sh <profile> [cmake args...]     profiles: ls board/
#
# Installs what the profile needs (apt, as root, only what is missing), then, for a
# foreign architecture, puts the target's Debian libraries into build-sysroot/<arch>/
# (see hb_sysroot below for why not `apt-get install libfoo-dev:<arch>`), configures with
# board/<profile>/toolchain.cmake and builds everything, unit tests included: ctest in
# the cross tree runs them under qemu-user. Re-running it only rebuilds what changed.
set -euo pipefail
HB_ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/common.sh
. "$HB_ROOT/scripts/common.sh"

# The target libraries: what hausbus links (runtime + -dev), the C library to link and
# run against, and the runtime dependencies of those (libcivetweb1 is C++ underneath).
HB_TARGET_PACKAGES=(libc6 libc6-dev linux-libc-dev libcrypt1 libcrypt-dev libgcc-s1
                    libstdc++6 libmosquitto1 libmosquitto-dev libcjson1 libcjson-dev
                    libsqlite3-0 libsqlite3-dev libcivetweb1 libcivetweb-dev libssl3
                    libssl-dev libcmocka0 libcmocka-dev
                    # libcurl (the notification component's KakaoTalk client) and the
                    # libraries it needs at link and run time
                    libcurl4 libcurl4-openssl-dev gcc-12-base libbrotli1 libcom-err2
                    libdb5.3 libffi8 libgmp10 libgnutls30 libgssapi-krb5-2 libhogweed6
                    libidn2-0 libk5crypto3 libkeyutils1 libkrb5-3 libkrb5support0
                    libldap-2.5-0 libnettle8 libnghttp2-14 libp11-kit0 libpsl5 librtmp1
                    libsasl2-2 libsasl2-modules-db libssh2-1 libtasn1-6 libunistring2
                    libzstd1 zlib1g)

usage() {
    local dirs=("$HB_ROOT"/board/*/)
    dirs=("${dirs[@]%/}")
    echo "usage: $0 <profile> [cmake args...]; profiles: ${dirs[*]##*/}" >&2
    exit 2
}

# hb_apt_ready <debian arch>: the architecture is known to dpkg and apt has its package
# lists. Needs root the first time.
hb_apt_ready() {
    local arch=$1
    if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
        [ "$(id -u)" -eq 0 ] || { echo "run as root once: dpkg --add-architecture $arch && apt-get update" >&2; return 1; }
        dpkg --add-architecture "$arch"
    fi
    if ! apt-cache show "libmosquitto1:$arch" >/dev/null 2>&1; then
        [ "$(id -u)" -eq 0 ] || { echo "run as root once: apt-get update" >&2; return 1; }
        # A mirror that is half-synced for one architecture fails its index but leaves
        # the others usable; whether ours arrived is checked just below.
        apt-get update -qq || true
        apt-cache show "libmosquitto1:$arch" >/dev/null 2>&1 \
            || { echo "apt has no $arch packages; check /etc/apt/sources.list*" >&2; return 1; }
    fi
}

# hb_sysroot <debian arch> <dir>: the target's libraries and headers, unpacked from the
# Debian packages into <dir> (the same files a device running Debian has). Why not
# multiarch `apt-get install libfoo-dev:<arch>`: every package here is Multi-Arch: same,
# so dpkg insists on one version across architectures, and the host's libssl3, libc6 and
# linux-libc-dev move with its own security updates while the mirror's arm64/armhf
# indexes can lag (seen here: libssl3 3.0.19 amd64 installed, 3.0.22 amd64 and 3.0.20
# arm64 offered; apt refuses libmosquitto-dev:arm64, libssl-dev:arm64 and
# libsqlite3-dev:arm64). An unpacked sysroot never touches the host's packages, and the
# same directory serves the linker (--sysroot) and qemu (-L). Redone when a version moves.
hb_sysroot() {
    local arch=$1 dir=$2 want have tmp
    # One apt-cache call: each takes seconds once apt knows three architectures.
    want=$(apt-cache policy "${HB_TARGET_PACKAGES[@]/%/:$arch}" \
               | awk '/^[^ ]/ { name = $1 } /^  Candidate:/ { print name $2 }')
    have=$(cat "$dir/.hausbus-packages" 2>/dev/null || true)
    [ "$want" = "$have" ] && return 0
    echo "unpacking the $arch sysroot into $dir" >&2
    tmp=$(mktemp -d)
    # apt's download sandbox user must be able to write there.
    chmod 0777 "$tmp"
    (cd "$tmp" && apt-get download -qq "${HB_TARGET_PACKAGES[@]/%/:$arch}" >/dev/null 2>&1) \
        || { echo "apt-get download of the $arch packages failed" >&2; rm -rf "$tmp"; return 1; }
    rm -rf "$dir"
    mkdir -p "$dir"
    for deb in "$tmp"/*.deb; do
        dpkg-deb -x "$deb" "$dir"
    done
    rm -rf "$tmp"
    # Debian's -dev symlinks may be absolute (libm.so -> /lib/<triplet>/libm.so.6); the
    # kernel would resolve them on the host, so point them inside the sysroot.
    local link target
    while IFS= read -r link; do
        target=$(readlink "$link")
        ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$dir$target")" "$link"
    done < <(find "$dir" -type l -lname '/*')
    echo "$want" >"$dir/.hausbus-packages"
}

# print_sizes <build dir> <binutils prefix>: the size of every program and of the TLS
# shim once stripped (of stripped copies: the build tree keeps its debug information),
# and text+data, what it costs in memory before any heap: on arm64 the file is mostly
# the padding that aligns its segments to 64 KiB pages.
print_sizes() {
    local dir=$1 prefix=$2 tmp f total=0 size mem
    tmp=$(mktemp -d)
    printf '%-22s %12s %12s\n' "file" "stripped B" "text+data B"
    for f in "${HB_PROGRAMS[@]/#/$dir/bin/}" "$dir/bin/hausbus-token" "$dir/lib/civetweb-tls/libssl.so"; do
        [ -f "$f" ] || continue
        cp "$f" "$tmp/x"
        "${prefix}strip" --strip-unneeded "$tmp/x"
        size=$(stat -c %s "$tmp/x")
        mem=$("${prefix}size" -B "$tmp/x" | awk 'NR == 2 { print $1 + $2 }')
        total=$((total + size))
        printf '%-22s %12d %12d\n' "$(basename "$f")" "$size" "$mem"
    done
    printf '%-22s %12d\n' "total" "$total"
    rm -rf "$tmp"
}

[ $# -ge 1 ] || usage
profile=$1
shift
toolchain=$HB_ROOT/board/$profile/toolchain.cmake
[ -f "$toolchain" ] || usage
arch=$(hb_toolchain_fact "$toolchain" HB_DEBIAN_ARCH)
triplet=$(hb_toolchain_fact "$toolchain" HB_TRIPLET)
if [ -z "$arch" ] || [ -z "$triplet" ]; then
    echo "$toolchain lacks set(HB_DEBIAN_ARCH ...) or set(HB_TRIPLET ...)" >&2
    exit 1
fi
build=$HB_ROOT/build-$profile
cmake_args=(-DCMAKE_TOOLCHAIN_FILE="$toolchain")

if [ "$arch" = "$(dpkg --print-architecture)" ]; then
    hb_install_deps
    binutils=
else
    # The cross compiler (its binutils come along) and qemu-user to run the result.
    hb_install_deps "gcc-$triplet" qemu-user
    hb_apt_ready "$arch"
    sysroot=$HB_ROOT/build-sysroot/$arch
    hb_sysroot "$arch" "$sysroot"
    cmake_args+=(-DHB_SYSROOT="$sysroot")
    binutils=$triplet-
fi

mkdir -p "$build"
# Quiet when it works; the end of the log when it does not.
if ! { cmake -S "$HB_ROOT" -B "$build" "${cmake_args[@]}" "$@" \
       && cmake --build "$build" -j "${HB_BUILD_JOBS:-$(nproc)}"; } >"$build/cross-build.log" 2>&1; then
    tail -n 40 "$build/cross-build.log" >&2
    echo "build of $profile failed; full log: $build/cross-build.log" >&2
    exit 1
fi
echo "built $profile ($triplet) in $build" >&2
print_sizes "$build" "$binutils"
