# pod-x86_64: the host build as it goes into the container image and the Kubernetes pods
# (amd64 Debian bookworm). Native: scripts/cross-build.sh pod-x86_64 builds with the
# host's gcc and libraries into build-pod-x86_64/.

# Debian architecture and GNU triplet (scripts/cross-build.sh reads these two lines).
set(HB_DEBIAN_ARCH amd64)
set(HB_TRIPLET x86_64-linux-gnu)
set(CMAKE_C_COMPILER gcc)

# No -march: the image runs on whatever node the scheduler picks, so stay at the
# x86-64 baseline Debian itself is built for.
