#!/usr/bin/env bash
# Scale-out demo on loopback: two dashboard replicas (ports 8601, 8602) sharing the one read-only
# data/evidence.duckdb, nginx in front on 8600 with a sticky upstream and websocket upgrade headers
# (deploy/nginx.conf.template), then the load script through nginx. It shows that both replicas
# served sessions (their per-rerun perf log lines and nginx's upstream log) and that both give the
# same answers for the same link. Everything it starts runs in the foreground of this script, in a
# temporary prefix, and is stopped on exit (trap); /etc/nginx is never touched.
#
# Usage:  scripts/scale_out.sh                         # 30 sessions for 60 s
#         SESSIONS=10 DURATION=20 scripts/scale_out.sh  # a quicker look
# Settings (environment): PORT=8600 REPLICA_PORTS="8601 8602" STICKY=cookie|ip SESSIONS=30
#         DURATION=60 BROWSERS=2 KEEP=1 (keep the temp dir with logs) NGINX=/usr/sbin/nginx
#         THINK="5 10" (seconds between one session's changes; default: the load script's 0.5-1.5)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

PY=${PY:-$ROOT/.venv/bin/python}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
PORT=${PORT:-8600}
read -r -a REPLICA_PORTS <<< "${REPLICA_PORTS:-8601 8602}"
STICKY=${STICKY:-cookie}
SESSIONS=${SESSIONS:-30}
DURATION=${DURATION:-60}
BROWSERS=${BROWSERS:-2}
OUT=${OUT:-$ROOT/artifacts/scale-out}

case "$STICKY" in
  cookie) STICKY_RULE='least_conn;' ;;
  ip)     STICKY_RULE='ip_hash;' ;;
  *) echo "STICKY must be 'cookie' or 'ip', not '$STICKY'" >&2; exit 2 ;;
esac
[ -x "$NGINX" ] || { echo "nginx not found ($NGINX): apt-get install nginx-light" >&2; exit 2; }
[ -x "$PY" ] || { echo "$PY missing: run 'make install-dev' first" >&2; exit 2; }

WORK=$(mktemp -d /tmp/peer-scale-out.XXXXXX)
chmod 755 "$WORK"   # nginx workers (user nobody when started as root) must reach their temp dirs
PIDS=()

cleanup() {
  local status=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [ "${KEEP:-0}" = 1 ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT INT TERM

port_free() {
  "$PY" - "$1" <<'EOF'
import socket, sys
s = socket.socket()
# As nginx and Streamlit bind: connections of a previous run lingering in TIME_WAIT do not hold the port.
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

wait_healthy() {  # url, seconds
  "$PY" - "$1" "$2" <<'EOF'
import sys, time, urllib.request
url, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
            if r.read().strip() == b"ok":
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.3)
sys.exit(f"{url} did not become healthy")
EOF
}

for p in "$PORT" "${REPLICA_PORTS[@]}"; do
  port_free "$p" || { echo "port $p is in use on 127.0.0.1; set PORT / REPLICA_PORTS" >&2; exit 2; }
done

echo "== building the store once (replicas only read it)"
"$PY" -m evidence build --if-stale
ls -l data/evidence.duckdb

UPSTREAMS=""
PINNED=""
for p in "${REPLICA_PORTS[@]}"; do
  echo "== replica on 127.0.0.1:$p (log $WORK/replica-$p.log)"
  "$PY" -m streamlit run app.py --server.address 127.0.0.1 --server.port "$p" \
    --server.headless true --server.fileWatcherType none --server.runOnSave false \
    --browser.gatherUsageStats false > "$WORK/replica-$p.log" 2>&1 &
  PIDS+=("$!")
  UPSTREAMS+="        server 127.0.0.1:$p max_fails=3 fail_timeout=10s;"$'\n'
  if [ "$STICKY" = cookie ]; then PINNED+="        \"127.0.0.1:$p\" 127.0.0.1:$p;"$'\n'; fi
done
for p in "${REPLICA_PORTS[@]}"; do wait_healthy "http://127.0.0.1:$p" 90; done

MAX_BODY_MB=$("$PY" - <<'EOF'
import tomllib
from pathlib import Path
config = Path(".streamlit/config.toml")
data = tomllib.loads(config.read_text()) if config.exists() else {}
print(int(data.get("server", {}).get("maxUploadSize", 200)) + 1)
EOF
)
"$PY" - "$WORK" "$PORT" "$STICKY_RULE" "$UPSTREAMS" "$MAX_BODY_MB" "${PINNED:-}" <<'EOF'
import sys
from pathlib import Path
work, port, rule, upstreams, max_body, pinned = sys.argv[1:]
text = Path("deploy/nginx.conf.template").read_text()
for key, value in {"PREFIX": work, "LISTEN": f"127.0.0.1:{port}", "STICKY_RULE": rule,
                   "UPSTREAM_SERVERS": upstreams.rstrip("\n"), "PINNED_REPLICAS": pinned.rstrip("\n"),
                   "MAX_BODY_MB": max_body}.items():
    text = text.replace(f"@{key}@", value)
assert "@" not in text, "unfilled placeholder in nginx.conf"
Path(work, "nginx.conf").write_text(text)
EOF
"$NGINX" -t -q -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/error.log"
echo "== nginx on 127.0.0.1:$PORT, sticky rule: $STICKY_RULE"
"$NGINX" -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/error.log" &
PIDS+=("$!")
wait_healthy "http://127.0.0.1:$PORT" 20

if [ "$STICKY" = cookie ]; then
  echo "== sticky cookie: a new browser is pinned, a pinned one stays, a cookie naming another host is ignored"
  "$PY" - "$PORT" "${REPLICA_PORTS[@]}" <<'EOF'
import sys
import urllib.request

port, *replicas = sys.argv[1:]
listed = {f"127.0.0.1:{p}" for p in replicas}

def served_by(cookie: str | None = None) -> str:
    headers = {"Cookie": f"peer_replica={cookie}"} if cookie else {}
    request = urllib.request.Request(f"http://127.0.0.1:{port}/_stcore/health", headers=headers)
    with urllib.request.urlopen(request, timeout=5) as response:
        cookies = response.headers.get_all("Set-Cookie") or []
    return next((c.split("=", 1)[1].split(";")[0] for c in cookies if c.startswith("peer_replica=")), "")

first = served_by()
assert first in listed, f"first visit not pinned to a listed replica: {first!r}"
assert all(served_by(first) == first for _ in range(10)), "a pinned browser moved"
assert all(served_by(r) == r for r in sorted(listed)), "a replica named by its cookie was not used"
assert served_by("203.0.113.9:80") in listed, "a cookie naming an unlisted host steered nginx"
print(f"first visit -> {first}; 10 more with its cookie -> same; each replica by cookie; unlisted host ignored")
EOF
fi

offsets=()
for p in "${REPLICA_PORTS[@]}"; do offsets+=("$(stat -c %s "$WORK/replica-$p.log")"); done

echo "== load: $SESSIONS sessions for $DURATION s through nginx"
mkdir -p "$OUT"
LOAD_ARGS=(--url "http://127.0.0.1:$PORT" --sessions "$SESSIONS" --duration "$DURATION" --browsers "$BROWSERS"
           --json "$OUT/loadtest-nginx.json")
if [ -n "${THINK:-}" ]; then
  read -r think_min think_max <<<"$THINK"
  LOAD_ARGS+=(--think "$think_min" "$think_max")
fi
for p in "${REPLICA_PORTS[@]}"; do
  LOAD_ARGS+=(--server-log "$WORK/replica-$p.log" --replica "http://127.0.0.1:$p")
done
status=0
"$PY" scripts/loadtest.py "${LOAD_ARGS[@]}" || status=$?

echo "== who served what"
served=0
for i in "${!REPLICA_PORTS[@]}"; do
  p=${REPLICA_PORTS[$i]}
  reruns=$(tail -c +"$((offsets[$i] + 1))" "$WORK/replica-$p.log" | grep -c "peer_dashboard.perf" || true)
  sockets=$(grep -c "GET /_stcore/stream .* 101 upstream=127.0.0.1:$p " "$WORK/access.log" || true)
  echo "replica 127.0.0.1:$p: $reruns reruns logged (peer_dashboard.perf), $sockets websocket sessions via nginx"
  [ "$reruns" -gt 0 ] && served=$((served + 1))
done
cp "$WORK/access.log" "$OUT/nginx-access.log"
for p in "${REPLICA_PORTS[@]}"; do cp "$WORK/replica-$p.log" "$OUT/replica-$p.log"; done
echo "logs copied to $OUT"
if [ "$served" -lt "${#REPLICA_PORTS[@]}" ]; then
  echo "NOT every replica served reruns (sticky rule '$STICKY'; with 'ip' every loopback client is one address)" >&2
  [ "$STICKY" = ip ] || status=1
fi
exit "$status"
