#!/usr/bin/env bash
# Stop what start.sh started in STATE_DIR: the MLflow server (its whole process group, the
# workers included) and the PostgreSQL cluster, then remove the cluster's files.
# Safe to run twice, or after a start that failed half-way.
set -uo pipefail

state_dir=${1:?usage: stop.sh STATE_DIR}

if [ -f "$state_dir/mlflow.pid" ]; then
    pid=$(cat "$state_dir/mlflow.pid")
    # setsid made the server a process-group leader: signal the group, wait up to 10 s, then kill.
    kill -TERM -- "-$pid" 2> /dev/null
    for _ in $(seq 20); do
        kill -0 -- "-$pid" 2> /dev/null || break
        sleep 0.5
    done
    kill -KILL -- "-$pid" 2> /dev/null
    rm -f "$state_dir/mlflow.pid"
fi

if [ -f "$state_dir/pg-dir" ]; then
    pg_dir=$(cat "$state_dir/pg-dir")
    pg_bin=$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n 1)
    if [ -d "$pg_dir/data" ]; then
        if [ "$(id -u)" -eq 0 ]; then
            runuser -u postgres -- "$pg_bin/pg_ctl" --pgdata "$pg_dir/data" --mode fast --wait stop > /dev/null
        else
            "$pg_bin/pg_ctl" --pgdata "$pg_dir/data" --mode fast --wait stop > /dev/null
        fi
    fi
    rm -rf "$pg_dir"
    rm -f "$state_dir/pg-dir"
fi
echo "stopped"
