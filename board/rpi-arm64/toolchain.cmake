# rpi-arm64: Raspberry Pi 3/4/5, Zero 2 W and other aarch64 boards on Debian bookworm (64-bit).
# Build with scripts/cross-build.sh rpi-arm64 (see board/README.md).

# Debian architecture and GNU triplet (scripts/cross-build.sh reads these two lines).
set(HB_DEBIAN_ARCH arm64)
set(HB_TRIPLET aarch64-linux-gnu)
set(HB_QEMU qemu-aarch64)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

# The Cortex-A53 (Pi 3, Zero 2 W) is the oldest core in the family: ARMv8.0-A code tuned
# for it runs on every Pi with a 64-bit OS, and the A72/A76 lose little by it.
set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-a53")

include(${CMAKE_CURRENT_LIST_DIR}/../../cmake/hb_debian_cross.cmake)
