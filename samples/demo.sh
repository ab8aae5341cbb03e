#!/usr/bin/env bash
# `make run`: a working peerwork demo on embedded defaults.
# One agent on an unprivileged port on loopback, sharing a copy of samples/share.
# Discovery is off here: on this machine it would announce on the real LAN.
# Ctrl-C stops the agent (it is started by this script and stopped by PID).
set -euo pipefail
cd "$(dirname "$0")/.."
PW=.venv/bin/peerwork
DEMO=${PEERWORK_DEMO_DIR:-$PWD/demo}
HOME_DIR=$DEMO/home
PORT=${PEERWORK_DEMO_PORT:-4445}
BIND=${PEERWORK_DEMO_BIND:-127.0.0.1}
USER_NAME=alice
PASSWORD=${PEERWORK_DEMO_PASSWORD:-alice-demo}

if [ ! -f "$HOME_DIR/peerwork.toml" ]; then
  "$PW" --home "$HOME_DIR" init --workgroup DEMO --name DEMO-PC --owner "$USER_NAME"
  .venv/bin/python - "$HOME_DIR/peerwork.toml" "$BIND" "$PORT" <<'PY'
import sys, tomlkit
path, bind, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
doc = tomlkit.parse(open(path).read())
doc["files"]["bind"] = bind
doc["files"]["port"] = port
doc["discovery"]["enabled"] = False
doc["discovery"].comment("off in the demo: it would announce on this machine's real LAN")
open(path, "w").write(tomlkit.dumps(doc))
PY
  echo "$PASSWORD" | "$PW" --home "$HOME_DIR" user add "$USER_NAME" --password-stdin
fi
mkdir -p "$DEMO/share"
cp -rn samples/share/. "$DEMO/share/"

"$PW" --home "$HOME_DIR" agent 2>"$DEMO/agent.log" &
AGENT=$!
trap 'kill -TERM $AGENT 2>/dev/null; wait $AGENT 2>/dev/null; echo; echo "demo agent stopped"' EXIT
for _ in $(seq 1 100); do
  "$PW" --home "$HOME_DIR" status --json >/dev/null 2>&1 && break
  kill -0 $AGENT 2>/dev/null || { cat "$DEMO/agent.log"; exit 1; }
  sleep 0.1
done
"$PW" --home "$HOME_DIR" shares --json | grep -q '"name": "samples"' \
  || "$PW" --home "$HOME_DIR" share "$DEMO/share" --name samples --comment "peerwork demo" \
       --grant "$USER_NAME=change" --grant everyone=read >/dev/null
PORT=$("$PW" --home "$HOME_DIR" status --json | .venv/bin/python -c '
import json, sys
files = next(s for s in json.load(sys.stdin)["services"] if s["name"] == "files")
if files["state"] != "running":
    sys.exit("the file service did not start: " + files["reason"])
print(files["ports"]["smb"])')

cat <<TXT

peerwork demo is running (agent pid $AGENT, log $DEMO/agent.log).
  Share 'samples' = $DEMO/share   account $USER_NAME / password $PASSWORD (change), everyone else: read

Try it from another terminal:
  smbclient -L //$BIND -p $PORT -U $USER_NAME%$PASSWORD          # list shares
  smbclient //$BIND/samples -p $PORT -U $USER_NAME%$PASSWORD -c 'ls; get Welcome.txt /tmp/Welcome.txt'
  .venv/bin/peerwork ls //$BIND:$PORT/samples --user $USER_NAME   # peerwork's own client
  .venv/bin/peerwork --home $HOME_DIR status                       # services and ports
  .venv/bin/peerwork --home $HOME_DIR share /some/folder --grant $USER_NAME=change
  macOS Finder:  Go > Connect to Server: smb://$USER_NAME@$BIND:$PORT/samples
  Windows:       \\\\HOST\\samples needs port 445: run as root with PEERWORK_DEMO_PORT=445 PEERWORK_DEMO_BIND=0.0.0.0

Ctrl-C stops the demo.
TXT
wait $AGENT
