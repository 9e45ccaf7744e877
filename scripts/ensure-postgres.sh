#!/usr/bin/env bash
# Make sure PostgreSQL answers on 127.0.0.1:5432 with trust authentication for the store tests,
# and that their database (OPENDERMS_TEST_PG_DB, default openderms_test) exists. Idempotent:
# when the server is up and the database there, it only checks. Otherwise it installs Debian's
# postgresql if missing, starts its cluster, trusts 127.0.0.1 and creates the database.
set -euo pipefail

HOST=127.0.0.1
PORT=5432
DB="${OPENDERMS_TEST_PG_DB:-openderms_test}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

ready() {
    command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h "$HOST" -p "$PORT"
}

can_connect() {
    PGCONNECT_TIMEOUT=5 psql -w -h "$HOST" -p "$PORT" -U postgres -d postgres -tAc 'SELECT 1' \
        >/dev/null 2>&1
}

# the newest local cluster named main: "<version>" or nothing
cluster_version() {
    if [ -d /etc/postgresql ]; then
        find /etc/postgresql -mindepth 2 -maxdepth 2 -name main -printf '%h\n' 2>/dev/null \
            | xargs -r -n 1 basename | sort -V | tail -n 1
    fi
}

# pg_hba.conf takes the first line that matches: put a trust line for 127.0.0.1 first
trust_loopback() {
    local hba="/etc/postgresql/$1/main/pg_hba.conf"
    if ! $SUDO grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
        echo "trusting connections from 127.0.0.1 in $hba"
        $SUDO sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
        return 0
    fi
    return 1
}

is_online() {
    pg_lsclusters -h 2>/dev/null | awk -v v="$1" '$1 == v && $2 == "main" { print $4 }' \
        | grep -q online
}

if ! ready; then
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
        echo "installing Debian's postgresql for the store tests..."
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
    fi
    VERSION="$(cluster_version)"
    if [ -z "$VERSION" ]; then
        VERSION="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)"
        $SUDO pg_createcluster --port "$PORT" "$VERSION" main
    fi
    trust_loopback "$VERSION" || true
    if is_online "$VERSION"; then
        $SUDO pg_ctlcluster --skip-systemctl-redirect "$VERSION" main restart
    else
        $SUDO pg_ctlcluster --skip-systemctl-redirect "$VERSION" main start
    fi
    for _ in $(seq 1 30); do
        ready && break
        sleep 1
    done
fi

if ready && ! can_connect; then
    VERSION="$(cluster_version)"
    if [ -n "$VERSION" ] && trust_loopback "$VERSION"; then
        $SUDO pg_ctlcluster --skip-systemctl-redirect "$VERSION" main reload
        sleep 1
    fi
fi

if ! ready || ! can_connect; then
    echo "PostgreSQL does not accept user postgres on $HOST:$PORT without a password" >&2
    exit 1
fi

EXISTS="$(psql -w -h "$HOST" -p "$PORT" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DB'")"
if [ "$EXISTS" != "1" ]; then
    echo "creating database $DB"
    psql -w -h "$HOST" -p "$PORT" -U postgres -d postgres -qc "CREATE DATABASE \"$DB\""
fi
