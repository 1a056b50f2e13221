#!/usr/bin/env bash
# Start a private PostgreSQL cluster and an MLflow tracking server that uses it as backend
# store, both on 127.0.0.1 and on free ports, with all state under STATE_DIR.
#
#   tools/mlflow-server/start.sh STATE_DIR      # prints the tracking URI on its last line
#   export MLFLOW_TRACKING_URI=$(cat STATE_DIR/tracking-uri)
#   tools/mlflow-server/stop.sh STATE_DIR
#
# Artifacts go to STATE_DIR/artifacts through the server's artifact proxy (clients see
# mlflow-artifacts:/ URIs). The `mlflow` on PATH (or $MLFLOW) must be able to import psycopg
# (psycopg 3, in the project's dev dependencies).
set -euo pipefail

state_dir=${1:?usage: start.sh STATE_DIR}
mlflow=${MLFLOW:-mlflow}
mkdir -p "$state_dir"
state_dir=$(cd "$state_dir" && pwd)

pg_bin=$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n 1 || true)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
    echo "start.sh: PostgreSQL is not installed (run tools/install-system-deps.sh as root)" >&2
    exit 1
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
pg_port=$(free_port)
mlflow_port=$(free_port)
# A fresh random password per cluster; it never leaves STATE_DIR (mode 0700).
password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')

# PostgreSQL refuses to run as root. As root, the cluster belongs to the `postgres` user, in a
# folder of its own that it can reach (STATE_DIR's parents may be private to root).
if [ "$(id -u)" -eq 0 ]; then
    pg_dir=$(mktemp -d /tmp/sampleproject-pg.XXXXXX)
    chown postgres: "$pg_dir"
    as_pg=(runuser -u postgres --)
else
    pg_dir="$state_dir/postgres"
    mkdir -p "$pg_dir"
    as_pg=()
fi
chmod 700 "$pg_dir" "$state_dir"
echo "$pg_dir" > "$state_dir/pg-dir"

printf '%s\n' "$password" > "$pg_dir/pwfile"
[ "$(id -u)" -eq 0 ] && chown postgres: "$pg_dir/pwfile"
"${as_pg[@]}" "$pg_bin/initdb" --pgdata "$pg_dir/data" --username mlflow --pwfile "$pg_dir/pwfile" \
    --auth-host scram-sha-256 --auth-local trust --encoding UTF8 --no-instructions > "$state_dir/initdb.log"
rm -f "$pg_dir/pwfile"
"${as_pg[@]}" "$pg_bin/pg_ctl" --pgdata "$pg_dir/data" --log "$pg_dir/postgresql.log" --wait \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir" start > /dev/null
echo "$pg_port" > "$state_dir/pg-port"
PGPASSWORD=$password "$pg_bin/createdb" --host 127.0.0.1 --port "$pg_port" --username mlflow mlflow

# The store URI holds the password, so it goes through the environment, not the command line.
mkdir -p "$state_dir/artifacts"
MLFLOW_BACKEND_STORE_URI="postgresql+psycopg://mlflow:$password@127.0.0.1:$pg_port/mlflow" \
MLFLOW_ARTIFACTS_DESTINATION="$state_dir/artifacts" \
    setsid "$mlflow" server --host 127.0.0.1 --port "$mlflow_port" --workers 1 \
    > "$state_dir/mlflow.log" 2>&1 < /dev/null &
echo $! > "$state_dir/mlflow.pid"

uri="http://127.0.0.1:$mlflow_port"
# The first start creates the schema (Alembic migrations): allow it a couple of minutes.
for _ in $(seq 240); do
    if python3 -c "import urllib.request as u; u.urlopen('$uri/health', timeout=2)" 2> /dev/null; then
        echo "$uri" > "$state_dir/tracking-uri"
        echo "MLflow tracking server (PostgreSQL $(basename "$(dirname "$pg_bin")") backend) at:"
        echo "$uri"
        exit 0
    fi
    if ! kill -0 "$(cat "$state_dir/mlflow.pid")" 2> /dev/null; then
        break
    fi
    sleep 0.5
done
echo "start.sh: the MLflow server did not come up; its log:" >&2
tail -n 30 "$state_dir/mlflow.log" >&2
exit 1
