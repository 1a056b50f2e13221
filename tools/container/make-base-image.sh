#!/usr/bin/env bash
# Make a Python base image from Debian's packages, for sites that cannot pull one.
#
#   tools/container/make-base-image.sh ENGINE [IMAGE [SUITE]]
#
# The Dockerfile's base is a build argument (BASE_IMAGE) that defaults to the official
# python:3.11-slim-bookworm. Where no registry is reachable (air-gapped sites, this project's
# CI sandbox), the same kind of image can be made from the Debian mirror apt already uses:
# debootstrap installs a minimal Debian with Python 3.11 (bookworm's) into a folder, and the
# engine imports that folder as an image. Build with --build-arg BASE_IMAGE=IMAGE.
# SUITE is the Debian release: bookworm (Debian 12, Python 3.11: the default, the version
# constraints.txt is tested with) or trixie (Debian 13, Python 3.13: the newest supported).
# Needs root (debootstrap), debootstrap itself and the engine (docker or podman).
set -euo pipefail

engine=${1:?usage: make-base-image.sh ENGINE [IMAGE [SUITE]]}
image=${2:-localhost/python-base:bookworm}
suite=${3:-bookworm}
if ! [[ "$suite" =~ ^[a-z]+$ ]]; then
    echo "make-base-image: SUITE must be a Debian release name such as bookworm or trixie, not '$suite'" >&2
    exit 2
fi

# The mirror apt already uses here (deb822 .sources files first, then the one-line format),
# so a site with its own mirror or proxy needs nothing more; deb.debian.org otherwise.
mirror=$(sed -n 's|^URIs:[[:space:]]*\([^[:space:]]*/debian\)/\?[[:space:]]*$|\1|p' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1 || true)
if [[ -z "$mirror" ]]; then
    mirror=$(sed -n 's|^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*/debian\)/\?[[:space:]].*|\2|p' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n 1 || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}

rootfs=$(mktemp -d)
cleanup() {
    # An interrupted debootstrap can leave its mounts behind: unmount before deleting.
    local mount
    for mount in dev/pts dev proc sys; do umount "$rootfs/$mount" 2>/dev/null || true; done
    rm -rf "$rootfs" "$rootfs.log"
}
trap cleanup EXIT

echo "make-base-image: debootstrap $suite from $mirror"
# minbase: only essential packages and apt. python3-venv brings ensurepip, so `python3 -m venv`
# gives each environment its own pip; ca-certificates lets pip verify PyPI.
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || { cat "$rootfs.log" >&2; exit 1; }

# What only the bootstrap needed: downloaded packages and package lists (a Dockerfile's
# `apt-get update` fetches fresh lists), logs and caches.
rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* \
    "$rootfs"/var/cache/debconf/*-old "$rootfs"/usr/share/man/*
# Documentation, except the copyright files (licences must ship with the packages).
find "$rootfs"/usr/share/doc -type f ! -name copyright -delete

# Import the folder as a one-layer image, with the settings official images have.
tar --numeric-owner -C "$rootfs" -c . | "$engine" import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$image" >/dev/null
echo "make-base-image: $image ($("$engine" image inspect --format '{{.Size}}' "$image") bytes)"
