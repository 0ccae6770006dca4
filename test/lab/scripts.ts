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
if [ -n "\${LAB_REGISTRY_PORT:-}" ]; then
  socat "TCP-LISTEN:$LAB_REGISTRY_PORT,bind=127.0.0.1,fork,reuseaddr" "TCP:$LAB_REGISTRY_UPSTREAM" &
fi
# A restarted container keeps /run: stale pid files would stop dockerd from starting.
rm -rf /var/run/docker.pid /run/docker /run/containerd
exec dockerd >>/var/log/dockerd.log 2>&1
`;
