// Text of the small scripts baked into lab images (part of each image's recipe hash).

/**
 * Entry point of the postgres service image. Like the official image: on first start it runs
 * initdb with POSTGRES_USER / POSTGRES_PASSWORD and creates POSTGRES_DB, on a server that only
 * listens on its socket, so TCP readiness (pg_isready -h) means the real server is up.
 */
export const POSTGRES_ENTRYPOINT = `#!/bin/sh
set -eu
if [ "\${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  user="\${POSTGRES_USER:-postgres}"
  db="\${POSTGRES_DB:-$user}"
  auth="\${POSTGRES_HOST_AUTH_METHOD:-}"
  if [ -z "$auth" ]; then
    if [ -n "\${POSTGRES_PASSWORD:-}" ]; then auth=md5; else auth=trust; fi
  fi
  if [ -n "\${POSTGRES_PASSWORD:-}" ]; then
    pwfile="$(mktemp)"
    printf '%s\\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host="$auth" -E UTF8 >/dev/null
    rm -f "$pwfile"
  else
    initdb --username="$user" --auth-local=trust --auth-host="$auth" -E UTF8 >/dev/null
  fi
  printf 'host all all 0.0.0.0/0 %s\\nhost all all ::/0 %s\\n' "$auth" "$auth" >> "$PGDATA/pg_hba.conf"
  printf "listen_addresses = '*'\\n" >> "$PGDATA/postgresql.conf"
  if [ "$db" != postgres ]; then
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    createdb --username="$user" --host=/var/run/postgresql -- "$db"
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  fi
  echo "pallet-lab postgres: initialised database '$db' for user '$user' (host auth $auth)"
fi
exec "$@"
`;

/** sshd settings for lab hosts: root by key only, room for multiplexed deploy sessions. */
export const SSHD_LAB_CONF = `PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
MaxSessions 64
MaxStartups 64:30:128
`;

/**
 * PID 2 of a lab host (docker-init is PID 1): install the lab key, start sshd, forward the
 * registry port to loopback (so 127.0.0.1:PORT means the lab registry here too), run dockerd.
 */
export const HOST_INIT = `#!/bin/sh
set -eu
mkdir -p /root/.ssh /run/sshd
chmod 700 /root/.ssh
printf '%s\\n' "$LAB_AUTHORIZED_KEY" > /root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys
ssh-keygen -A >/dev/null
/usr/sbin/sshd -E /var/log/sshd.log
# The host's cron daemon (it forks into the background), as on a Debian server: deploy.cron's jobs.
/usr/sbin/cron
if [ -n "\${LAB_REGISTRY_PORT:-}" ]; then
  socat "TCP-LISTEN:$LAB_REGISTRY_PORT,bind=127.0.0.1,fork,reuseaddr" "TCP:$LAB_REGISTRY_UPSTREAM" &
fi
# The engine restarts in place when it exits, like systemd's Restart= on a real host: tests
# restart it with \`kill $(cat /var/run/docker.pid)\`, and /var/lib/docker (the tmpfs) with its
# images, containers and restart policies survives. SIGTERM to the host stops it for good.
pid=""
trap '[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; exit 0' TERM INT
while :; do
  # A restarted container or engine keeps /run: stale pid files would stop dockerd from starting.
  rm -rf /var/run/docker.pid /run/docker /run/containerd
  dockerd >>/var/log/dockerd.log 2>&1 &
  pid=$!
  wait "$pid" || true
  sleep 1
done
`;

/**
 * Entry point of the RabbitMQ service image. Like the official image it takes the first user,
 * password and vhost from RABBITMQ_DEFAULT_USER / _PASS / _VHOST (guest / guest / `/`), and
 * lets that user connect from other containers (RabbitMQ only lets `guest` in over loopback by
 * default). Logs go to the console, so `docker logs` shows why a broker did not come up.
 */
export const RABBITMQ_ENTRYPOINT = `#!/bin/sh
set -eu
{
  echo 'loopback_users = none'
  echo 'listeners.tcp.default = 5672'
  echo 'log.console = true'
  echo 'log.console.level = info'
  echo 'log.console.use_colors = off'
  echo 'log.file = false'
  printf 'default_user = %s\\n' "\${RABBITMQ_DEFAULT_USER:-guest}"
  printf 'default_pass = %s\\n' "\${RABBITMQ_DEFAULT_PASS:-guest}"
  printf 'default_vhost = %s\\n' "\${RABBITMQ_DEFAULT_VHOST:-/}"
} > /etc/rabbitmq/rabbitmq.conf
echo "pallet-lab rabbitmq: user '\${RABBITMQ_DEFAULT_USER:-guest}', vhost '\${RABBITMQ_DEFAULT_VHOST:-/}'"
exec "$@"
`;

/**
 * The SMTP sink (python3-aiosmtpd): accepts every message on port 1025 and keeps it in memory;
 * port 8025 lists what arrived as JSON at GET /api/v1/messages, in the shape of the catalog's
 * default image (Mailpit: {total, messages: [{ID, From: {Address}, To: [{Address}], Subject,
 * Snippet}]}), so a test can ask the sink what it received.
 */
export const SMTP_SINK = `#!/usr/bin/env python3
import json
import os
import threading
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

SMTP_PORT = int(os.environ.get("SMTP_PORT", "1025"))
HTTP_PORT = int(os.environ.get("HTTP_PORT", "8025"))
messages = []
lock = threading.Lock()


class Sink:
    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        body = msg.get_body(preferencelist=("plain", "html"))
        text = body.get_content() if body is not None else ""
        with lock:
            record = {
                "ID": str(len(messages) + 1),
                "From": {"Name": "", "Address": envelope.mail_from},
                "To": [{"Name": "", "Address": r} for r in envelope.rcpt_tos],
                "Subject": str(msg.get("Subject", "")),
                "Snippet": text.strip()[:250],
                "Peer": session.peer[0],
            }
            messages.append(record)
        print(f"smtp sink: message {record['ID']} from {envelope.mail_from} to {', '.join(envelope.rcpt_tos)}: {record['Subject']}", flush=True)
        return "250 Message accepted for delivery"


class Api(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.split("?")[0] != "/api/v1/messages":
            self.send_error(404)
            return
        with lock:
            data = json.dumps({"total": len(messages), "messages": list(reversed(messages))}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass


controller = Controller(Sink(), hostname="0.0.0.0", port=SMTP_PORT)
controller.start()
print(f"smtp sink: SMTP on {SMTP_PORT}, messages as JSON on {HTTP_PORT} /api/v1/messages", flush=True)
ThreadingHTTPServer(("0.0.0.0", HTTP_PORT), Api).serve_forever()
`;

/** sshd on the bare host: keys only; root may not log in (the admin user has sudo). */
export const BARE_SSHD_CONF = `PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
MaxSessions 64
MaxStartups 64:30:128
`;

/** The bare host makes its own ssh host keys before sshd starts (Debian's package made them at build time; they are removed). */
export const BARE_HOSTKEYS_UNIT = `[Unit]
Description=lab: ssh host keys of this container
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
`;

/**
 * The lab registry at 127.0.0.1:PORT inside the bare host, as on the other lab hosts (Docker
 * treats 127.0.0.0/8 registries as insecure by default, so the host's engine needs no
 * insecure-registries setting). The lab writes /etc/default/lab-registry-forward and starts it.
 */
export const BARE_REGISTRY_FORWARD_UNIT = `[Unit]
Description=lab: forward 127.0.0.1:PORT to the lab registry
After=network.target

[Service]
EnvironmentFile=/etc/default/lab-registry-forward
ExecStart=/usr/bin/socat TCP-LISTEN:\${LAB_REGISTRY_PORT},bind=127.0.0.1,fork,reuseaddr TCP:\${LAB_REGISTRY_UPSTREAM}
Restart=always
`;

/**
 * apt on the bare host takes the archive's Release files as they are: the outer machine's
 * mirror is a snapshot whose Valid-Until has passed (the outer apt is set up the same way).
 */
export const BARE_APT_CONF = `Acquire::Check-Valid-Until "false";
Acquire::Check-Date "false";
`;

/**
 * Lifetime of the certificates the lab's ACME CA issues (seconds): short enough that a proxy's
 * renewal can be waited for (Caddy renews once a third of it is left), long enough for a suite.
 */
export const ACME_CERT_SECONDS = 240;

/** Where the ACME CA container keeps its listener certificate (a bind mount of the lab's acme/ directory). */
export const ACME_DIR_IN_CONTAINER = '/acme';

/**
 * Entry point of the lab's ACME CA (Debian's pebble package): a self-signed certificate for
 * Pebble's own HTTPS listeners, made for the container's address on the lab network (kept in the
 * bind-mounted ACME_DIR_IN_CONTAINER, where lab up reads it, and made again when the address
 * changed), then pebble-challtestsrv as Pebble's DNS server (management API on 8055, every other
 * listener off, no default address: only the names the lab adds with add-a resolve), then Pebble
 * (directory on 14000, its management API with the issuing roots on 15000), which validates
 * HTTP-01 on port 80 and TLS-ALPN-01 on 443 of whatever a name resolves to and issues
 * certificates valid for ACME_CERT_SECONDS.
 */
export const PEBBLE_INIT = `#!/bin/sh
set -eu
d=${ACME_DIR_IN_CONTAINER}
ip=$(hostname -i | awk '{print $1}')
mkdir -p "$d"
if [ ! -s "$d/listener.pem" ] || [ "$(cat "$d/listener.ip" 2>/dev/null)" != "$ip" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=pallet-lab pebble listener" \\
    -addext "subjectAltName=IP:$ip,DNS:localhost" -keyout "$d/listener.key" -out "$d/listener.pem" 2>/dev/null
  printf '%s\\n' "$ip" > "$d/listener.ip"
fi
cat > /etc/pebble.json <<CFG
{"pebble": {"listenAddress": "0.0.0.0:14000", "managementListenAddress": "0.0.0.0:15000",
  "certificate": "$d/listener.pem", "privateKey": "$d/listener.key",
  "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "", "externalAccountBindingRequired": false,
  "certificateValidityPeriod": ${ACME_CERT_SECONDS}}}
CFG
pebble-challtestsrv -defaultIPv4 "" -defaultIPv6 "" -dns01 127.0.0.1:8053 -management :8055 -http01 "" -https01 "" -tlsalpn01 "" &
exec pebble -config /etc/pebble.json -dnsserver 127.0.0.1:8053
`;
