#!/usr/bin/env bash
# Install PostgreSQL from Debian's packages (the server the MLflow tracking-server test uses as
# backend store). Idempotent: does nothing when a PostgreSQL server is already installed.
# Needs root (CI runs as root on a fresh Debian machine).
set -euo pipefail

if compgen -G '/usr/lib/postgresql/*/bin/initdb' > /dev/null; then
    echo "PostgreSQL already installed: $(compgen -G '/usr/lib/postgresql/*/bin/initdb' | head -n 1)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-postgresql.sh: run as root (apt-get install postgresql)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The Debian package also creates and starts a default cluster on port 5432; our tests do not
# use it (they make a private one on a free port), so it is stopped again to free resources.
apt-get install -y -qq --no-install-recommends postgresql > /dev/null
if command -v pg_lsclusters > /dev/null; then
    pg_lsclusters --no-header | while read -r version name _; do
        pg_ctlcluster "$version" "$name" stop 2> /dev/null || true
    done
fi
echo "PostgreSQL installed: $(compgen -G '/usr/lib/postgresql/*/bin/initdb' | head -n 1)"
