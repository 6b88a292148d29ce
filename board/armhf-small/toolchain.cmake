# armhf-small: 32-bit ARMv7 boards with hard float and about 64 MB of RAM, Debian armhf.
# Build with scripts/cross-build.sh armhf-small (see board/README.md).

# Debian architecture and GNU triplet (scripts/cross-build.sh reads these two lines).
set(HB_DEBIAN_ARCH armhf)
set(HB_TRIPLET arm-linux-gnueabihf)
set(HB_QEMU qemu-arm)
set(CMAKE_SYSTEM_PROCESSOR armv7l)

# Debian's armhf baseline (ARMv7-A, Thumb-2, VFPv3-D16) is the compiler's default, and the
# libraries in the sysroot are built for it: no -mcpu, so any armhf board runs the result.
# Thumb-2 is the default instruction set there, which is what keeps the code small.

# Flash and page cache are scarce on these boards: optimise for size unless told otherwise.
set(CMAKE_BUILD_TYPE MinSizeRel CACHE STRING "CMake build type")

include(${CMAKE_CURRENT_LIST_DIR}/../../cmake/hb_debian_cross.cmake)
