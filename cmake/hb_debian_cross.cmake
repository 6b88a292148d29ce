# Cross-compiling with Debian's gcc-<triplet> against an unpacked Debian sysroot.
#
# Included by the board/<profile>/toolchain.cmake files after they set HB_DEBIAN_ARCH,
# HB_TRIPLET, HB_QEMU and CMAKE_SYSTEM_PROCESSOR. scripts/cross-build.sh unpacks the
# target's Debian packages into build-sysroot/<arch>/ and passes -DHB_SYSROOT; the default
# is that same place. One directory is the compiler's --sysroot, the only place find_*
# and pkg-config look for libraries and headers, and qemu's -L prefix, so the linker and
# the emulator see exactly the libraries a Debian device of that architecture has.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${HB_TRIPLET}-gcc)

if(NOT HB_SYSROOT)
  get_filename_component(HB_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../build-sysroot/${HB_DEBIAN_ARCH}"
                         ABSOLUTE)
endif()
set(HB_SYSROOT "${HB_SYSROOT}" CACHE PATH "Unpacked Debian ${HB_DEBIAN_ARCH} root to build against")
if(NOT EXISTS "${HB_SYSROOT}/usr/lib/${HB_TRIPLET}/libc.so")
  message(FATAL_ERROR "no ${HB_DEBIAN_ARCH} sysroot in ${HB_SYSROOT}: run scripts/cross-build.sh "
                      "(it unpacks one), or pass -DHB_SYSROOT=<dir>")
endif()
# try_compile() projects read this file again but get no cache: hand HB_SYSROOT over.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES HB_SYSROOT)

set(CMAKE_SYSROOT "${HB_SYSROOT}")
set(CMAKE_LIBRARY_ARCHITECTURE ${HB_TRIPLET})
set(CMAKE_FIND_ROOT_PATH "${HB_SYSROOT}")
# Programs (python3, valgrind, clang) run on the host; libraries, headers and CMake
# packages come from the target only, never from the host's /usr.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config answers for the target: its .pc files only (LIBDIR replaces the host's
# search path) and every -I/-L prefixed with the sysroot.
set(ENV{PKG_CONFIG_LIBDIR} "${HB_SYSROOT}/usr/lib/${HB_TRIPLET}/pkgconfig:${HB_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${HB_SYSROOT}")

# ctest (and add_test with a target as its command) runs target programs through qemu-user;
# -L makes the program's /lib/ld-linux-*.so and every library it loads come from the sysroot.
set(CMAKE_CROSSCOMPILING_EMULATOR ${HB_QEMU} -L "${HB_SYSROOT}")
