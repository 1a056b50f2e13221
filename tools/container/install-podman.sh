#!/usr/bin/env bash
# Install podman and what it needs to build and run the image without a Docker engine,
# from Debian's (or Ubuntu's) own packages. Does nothing when they are all installed.
#
#   tools/container/install-podman.sh [PACKAGE...]
#
# podman and buildah build the Dockerfile; runc is the OCI runtime we use (containers.conf);
# fuse-overlayfs, slirp4netns and uidmap are what podman needs for storage, networking and
# users; debootstrap makes the base image where no registry can be reached
# (make-base-image.sh). Needs root, or sudo.
set -euo pipefail

packages=("$@")
if ((${#packages[@]} == 0)); then
    packages=(podman buildah runc fuse-overlayfs slirp4netns uidmap debootstrap)
fi

missing=()
for package in "${packages[@]}"; do
    dpkg-query --show --showformat='${db:Status-Status}' "$package" 2>/dev/null | grep -qx installed \
        || missing+=("$package")
done
((${#missing[@]} == 0)) && exit 0

sudo=()
if ((EUID != 0)); then
    command -v sudo >/dev/null || { echo "install-podman: run as root to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
echo "install-podman: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install --yes -qq "${missing[@]}" >/dev/null
