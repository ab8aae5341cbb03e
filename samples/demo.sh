#!/usr/bin/env bash
# `make run`: a working peerwork demo on embedded defaults, every service built so far.
#
# As root: a small office of two PCs, FRONTDESK and BACKOFFICE, each a real
# `peerwork agent`, inside a network namespace this script makes
# (peerwork-demo). Their discovery (mDNS) runs on that namespace's loopback,
# so nothing is announced on this machine's real network. Unprivileged (no
# namespaces): one agent on 127.0.0.1 with discovery off.
# Ctrl-C stops the agents (by PID) and removes the namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PW="$ROOT/.venv/bin/peerwork"
DEMO=${PEERWORK_DEMO_DIR:-$ROOT/demo}
NS=${PEERWORK_DEMO_NS:-peerwork-demo}
PASSWORD=${PEERWORK_DEMO_PASSWORD:-alice-demo}
BOB_PASSWORD=${PEERWORK_DEMO_BOB_PASSWORD:-bob-demo}
PIDS=()

if [ "$(id -u)" -eq 0 ] && ip netns list >/dev/null 2>&1; then
  IN_NS=(ip netns exec "$NS")
  DISCOVERY=true
else
  IN_NS=()
  DISCOVERY=false
fi

# A second `make run` must not tear down the first one's namespace or agents.
for lock in "$DEMO"/frontdesk/agent.lock "$DEMO"/backoffice/agent.lock; do
  if [ -e "$lock" ] && ! flock -n "$lock" true; then
    echo "a peerwork demo is already running from $DEMO (agent pid $(cat "$lock")); stop it with Ctrl-C first" >&2
    exit 1
  fi
done

cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$DISCOVERY" = true ]; then ip netns delete "$NS" 2>/dev/null || true; fi
  echo
  echo "demo stopped"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$DISCOVERY" = true ]; then
  ip netns delete "$NS" 2>/dev/null || true
  ip netns add "$NS"
  # mDNS on the namespace's own loopback: lo needs MULTICAST and a multicast route.
  ip netns exec "$NS" ip link set lo up
  ip netns exec "$NS" ip link set lo multicast on
  ip netns exec "$NS" ip route add 224.0.0.0/4 dev lo
fi

# make_pc NAME PORT CHANNEL_PORT SMTP_PORT POP3_PORT OWNER IMAP_PORT [INIT_OPTION]: a home under
# demo/, configured for the demo (once). Plain init creates the workgroup's key; a PC that will
# join by code is set up with --join-later.
make_pc() {
  local name=$1 port=$2 channel=$3 smtp=$4 pop3=$5 owner=$6 imap=$7 home="$DEMO/${1,,}"
  if [ ! -f "$home/peerwork.toml" ]; then
    "$PW" --home "$home" init --workgroup DEMO --name "$name" --owner "$owner" ${8:-} >/dev/null
    "$ROOT/.venv/bin/python" - "$home/peerwork.toml" "$port" "$DISCOVERY" "$channel" "$smtp" "$pop3" "$imap" <<'PY'
import sys, tomlkit
path, discovery = sys.argv[1], sys.argv[3] == "true"
port, channel, smtp, pop3, imap = (int(a) for a in (sys.argv[2], *sys.argv[4:8]))
doc = tomlkit.parse(open(path).read())
doc["files"]["bind"] = "127.0.0.1"
doc["files"]["port"] = port
# Two PCs on one loopback: each its own agent-to-agent channel port.
doc["channel"]["bind"] = "127.0.0.1"
doc["channel"]["port"] = channel
# The post office: SMTP, POP3 and IMAP on loopback.
doc["mail"]["enabled"] = True
doc["mail"]["bind"] = "127.0.0.1"
doc["mail"]["port"] = smtp
doc["mail"]["pop3_port"] = pop3
doc["mail"]["imap_port"] = imap
doc["discovery"]["enabled"] = discovery
doc["discovery"]["interfaces"] = ["lo"]
open(path, "w").write(tomlkit.dumps(doc))
PY
    # The same two on both: accounts made before a join merge (same password: no clash).
    echo "$PASSWORD" | "$PW" --home "$home" user add alice --password-stdin >/dev/null
    echo "$BOB_PASSWORD" | "$PW" --home "$home" user add bob --password-stdin >/dev/null
  fi
  # A demo made before IMAP: both PCs would want the default IMAP port.
  grep -q '^imap_port' "$home/peerwork.toml" \
    || "$PW" --home "$home" config set mail.imap_port "$imap" >/dev/null
}

start_agent() {
  local home="$DEMO/${1,,}"
  "${IN_NS[@]}" "$PW" --home "$home" agent 2>"$home.log" &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    "${IN_NS[@]}" "$PW" --home "$home" status --json >/dev/null 2>&1 && return 0
    kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$home.log"; exit 1; }
    sleep 0.1
  done
  echo "agent $1 did not start; see $home.log"; exit 1
}

share_once() {  # share_once PC FOLDER NAME GRANTS...
  local home="$DEMO/${1,,}" folder=$2 name=$3; shift 3
  "${IN_NS[@]}" "$PW" --home "$home" shares --json | grep -q "\"name\": \"$name\"" \
    || "${IN_NS[@]}" "$PW" --home "$home" share "$folder" --name "$name" "$@" >/dev/null 2>&1
}

mkdir -p "$DEMO/share" "$DEMO/scans"
cp -rn samples/share/. "$DEMO/share/"
[ -e "$DEMO/scans/scan-0001.txt" ] || echo "pretend this is a scanned invoice" > "$DEMO/scans/scan-0001.txt"

make_pc FRONTDESK 4445 7445 2525 1110 alice 1143
# FRONTDESK also shares a "PDF printer": every job lands in demo/printed/.
mkdir -p "$DEMO/printed"
"$ROOT/.venv/bin/python" - "$DEMO/frontdesk/peerwork.toml" "$DEMO/printed" <<'PY'
import sys, tomlkit
path, out = sys.argv[1], sys.argv[2]
doc = tomlkit.parse(open(path).read())
section = doc.setdefault("printers", tomlkit.table())
if "printer" not in section:
    section.update({"bind": "127.0.0.1", "port": 8631})
    printer = tomlkit.table()
    printer.update({"name": "office", "backend": f"file:{out}", "info": "Demo PDF printer"})
    section["printer"] = tomlkit.aot()
    section["printer"].append(printer)
    open(path, "w").write(tomlkit.dumps(doc))
PY
# A one-page PDF to print.
[ -e "$DEMO/hello.pdf" ] || printf '%s\n' '%PDF-1.4' \
  '1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj' '2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj' \
  '3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj' 'trailer<</Root 1 0 R>>' '%%EOF' \
  > "$DEMO/hello.pdf"
start_agent FRONTDESK
share_once FRONTDESK "$DEMO/share" samples --comment "peerwork demo" \
  --grant alice=change --grant everyone=read
if [ "$DISCOVERY" = true ]; then
  make_pc BACKOFFICE 4446 7446 2526 1111 bob 1144 --join-later
  start_agent BACKOFFICE
  # BACKOFFICE joins FRONTDESK's workgroup with a code FRONTDESK prints (once).
  if [ ! -f "$DEMO/backoffice/workgroup/member.crt" ]; then
    code=$("${IN_NS[@]}" "$PW" --home "$DEMO/frontdesk" invite --json \
      | "$ROOT/.venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["code"])')
    echo "FRONTDESK: peerwork invite -> $code"
    for _ in $(seq 1 50); do  # until BACKOFFICE has seen FRONTDESK's record
      if out=$("${IN_NS[@]}" "$PW" --home "$DEMO/backoffice" join "$code" 2>&1); then
        echo "BACKOFFICE: peerwork join $code -> $out"; break
      fi
      case $out in *"no PC on the LAN matches"*) sleep 0.2 ;; *) echo "$out" >&2; exit 1 ;; esac
    done
    [ -f "$DEMO/backoffice/workgroup/member.crt" ] || { echo "BACKOFFICE did not join" >&2; exit 1; }
  fi
  share_once BACKOFFICE "$DEMO/scans" scans --comment "Scanner drop folder" \
    --grant bob=full --grant alice=change
fi

RUN="${IN_NS[*]:+${IN_NS[*]} }"
cat <<TXT

peerwork demo is running: workgroup DEMO (FRONTDESK created it, BACKOFFICE joined by code),
accounts alice/$PASSWORD and bob/$BOB_PASSWORD.
  FRONTDESK   SMB 127.0.0.1:4445  share 'samples' = $DEMO/share  (alice change, other accounts read)
              mail: SMTP 127.0.0.1:2525, POP3 127.0.0.1:1110, IMAP 127.0.0.1:1143 (STARTTLS)
                    for alice@demo.lan and bob@demo.lan
              IPP 127.0.0.1:8631  printer 'office' = $DEMO/printed  (each job a file)
TXT
if [ "$DISCOVERY" = true ]; then
  cat <<TXT
  BACKOFFICE  SMB 127.0.0.1:4446  share 'scans'   = $DEMO/scans  (bob full, alice change)
Both PCs live in the network namespace '$NS' and find each other by mDNS there;
run the commands below from another terminal as root (each starts with ip netns exec $NS).

  ${RUN}$PW --home $DEMO/backoffice peers                  # BACKOFFICE sees FRONTDESK (member)
  ${RUN}$PW --home $DEMO/frontdesk invite                  # a join code for a third PC
  ${RUN}$PW --home $DEMO/backoffice browse FRONTDESK --user alice --password-stdin <<< $PASSWORD
  ${RUN}$PW --home $DEMO/backoffice get //FRONTDESK/samples/Welcome.txt /tmp/Welcome.txt --user alice
  ${RUN}$PW --home $DEMO/frontdesk put /etc/hostname //BACKOFFICE/scans/hostname.txt --user alice
  ${RUN}$PW --home $DEMO/backoffice ping FRONTDESK          # agent-to-agent channel (mutual TLS)
  ${RUN}$PW --home $DEMO/backoffice events                  # live events (share a folder on the other PC)
  ${RUN}$PW --home $DEMO/backoffice printers               # FRONTDESK shares printers (ipp port 8631)
  ${RUN}$PW --home $DEMO/backoffice print $DEMO/hello.pdf --printer FRONTDESK/office
TXT
else
  echo "Discovery is off: it needs root to run inside a namespace of its own."
fi
cat <<TXT
  ${RUN}swaks --server 127.0.0.1:2525 --from bob@demo.lan --to alice@demo.lan --attach /etc/os-release
  ${RUN}$PW --home $DEMO/frontdesk mail inbox --user alice --password-stdin <<< $PASSWORD  # over IMAP
  ${RUN}$PW --home $DEMO/frontdesk mail send --to alice --subject hi --attach /etc/hostname --user bob
  ${RUN}python3 -c "import poplib; p = poplib.POP3('127.0.0.1', 1110); p.user('alice'); p.pass_('$PASSWORD'); print(p.stat())"
  ${RUN}smbclient -L //127.0.0.1 -p 4445 -U alice%$PASSWORD
  ${RUN}smbclient //127.0.0.1/samples -p 4445 -U alice%$PASSWORD -c 'ls; get Welcome.txt /tmp/W.txt'
  ${RUN}$PW --home $DEMO/frontdesk status                  # services, states, real ports
  ${RUN}$PW --home $DEMO/frontdesk print $DEMO/hello.pdf     # lands in $DEMO/printed/
  ${RUN}ipptool -tv -f $DEMO/hello.pdf ipp://127.0.0.1:8631/ipp/print/office print-job.test
  ${RUN}$PW --home $DEMO/frontdesk share /some/folder --grant bob=read
On a real office PC (no namespace): 'peerwork agent' as root serves SMB on 445, which is what
Windows (\\\\FRONTDESK\\samples) and macOS Finder (smb://frontdesk.local/samples) connect to.
Logs: $DEMO/*.log. Ctrl-C stops the demo.
TXT
wait "${PIDS[@]}"
