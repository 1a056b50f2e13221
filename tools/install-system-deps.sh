#!/usr/bin/env bash
# The Debian packages that the real tests need, beyond Python:
#   podman and friends  build and run the container image without a Docker engine
#                       (see docs/container.md, "Without Docker: podman"); catatonit is
#                       the init of the pods `podman kube play` starts (tests/test_kubernetes.py)
#   docker.io           Docker's engine and its 20.10 client with BuildKit: the tests start a
#                       private dockerd of their own (tests/test_docker.py)
#   postgresql          the backend store of the real MLflow tracking server test
#   wrk                 the HTTP load of the soak benchmark (bench/bench_soak.py) and its smoke test
#   prometheus          promtool (tests of the alert rules) and the real Prometheus test
#   chromium            the real browser of the browser tests (tests/test_browser.py), driven by
#                       Playwright from PyPI, which never downloads a browser of its own
#   npm                 `make docs` takes Mermaid from its npm package (only where no npm is
#                       on PATH: a Node.js from elsewhere brings its own)
# As root with apt-get (CI, a container, a fresh VM) they are installed in one go; otherwise the
# missing ones are listed and the tests that need them are skipped (locally; CI fails instead).
set -euo pipefail

packages=(podman buildah debootstrap runc fuse-overlayfs slirp4netns uidmap catatonit docker.io
    postgresql wrk prometheus chromium)
command -v npm > /dev/null || packages+=(npm)
missing=()
for package in "${packages[@]}"; do
    dpkg-query --show --showformat='${Status}' "$package" 2> /dev/null \
        | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get > /dev/null; then
    echo "Not installed: ${missing[*]}. Tests that need them are skipped." \
        "To install: sudo apt-get install ${missing[*]}"
    exit 0
fi
echo "Installing Debian packages for the real tests: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
# Where systemd runs, installing docker.io starts Docker's own service: the tests use a private
# daemon instead, so stop the one just installed (and its containerd) rather than leave it running.
if [[ " ${missing[*]} " == *" docker.io "* ]] && command -v systemctl > /dev/null; then
    systemctl stop docker.socket docker.service containerd.service 2> /dev/null || true
fi
# Debian starts a default PostgreSQL cluster on installation; the tests make private ones on
# free ports, so stop it rather than leave a server running.
if command -v pg_lsclusters > /dev/null; then
    pg_lsclusters --no-header | while read -r version name _; do
        pg_ctlcluster "$version" "$name" stop 2> /dev/null || true
    done
fi
# Debian's prometheus package enables (and, with systemd running, starts) a system server on
# port 9090; the tests start their own on free ports, so stop and disable that one.
if [[ " ${missing[*]} " == *" prometheus "* ]]; then
    if [ -d /run/systemd/system ]; then
        systemctl disable --now prometheus 2> /dev/null || true
    else
        service prometheus stop > /dev/null 2>&1 || true
        update-rc.d prometheus disable > /dev/null 2>&1 || true
    fi
fi
