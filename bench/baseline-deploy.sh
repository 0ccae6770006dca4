#!/bin/bash
# The baseline pallet-action is measured against: the seed's django-deploy job (thraxil.org,
# "Continuously Deploying Django with Docker"), adapted to the lab. Sequential per host, one
# `ssh` (one handshake) per command: pull + back up TAG + write TAG on every host, migrations on
# the first, then stop/start host by host and role by role. No health checks, no revert.
#
# Environment:
#   WEB_HOSTS, WORKER_HOSTS, BEAT_HOSTS  space-separated host:port lists
#   IMAGE TAG APP ENV_FILE               what to deploy
#   SSH_KEY KNOWN_HOSTS SSH_USER         how to reach the hosts
#   REGISTRY REGISTRY_USER REGISTRY_PASSWORD  (optional) login on each host, password on stdin
set -euo pipefail

web=(${WEB_HOSTS})
workers=(${WORKER_HOSTS:-})
beats=(${BEAT_HOSTS:-})
dir=/var/lib/pallet/$APP

on() {
  local h=$1; shift
  ssh -i "$SSH_KEY" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes \
      -o UserKnownHostsFile="$KNOWN_HOSTS" -o ControlPath=none \
      -p "${h##*:}" "${SSH_USER:-root}@${h%:*}" "$@"
}

all=("${web[@]}" "${workers[@]}" "${beats[@]}")
for h in "${all[@]}"; do
  if [ -n "${REGISTRY_USER:-}" ]; then
    printf '%s\n' "$REGISTRY_PASSWORD" | on "$h" docker login -u "$REGISTRY_USER" --password-stdin "$REGISTRY" >/dev/null
  fi
  on "$h" docker pull -q "$IMAGE:$TAG" >/dev/null
  on "$h" "mkdir -p $dir/storage; cp $dir/TAG $dir/REVERT 2>/dev/null || true"
  on "$h" "echo $TAG > $dir/TAG"
done

h=${web[0]}
on "$h" docker run --rm --env-file "$ENV_FILE" -v "$dir/storage:/storage" "$IMAGE:$TAG" deploy >/dev/null

restart() {
  local h=$1 role=$2 cmd=$3; shift 3
  on "$h" docker stop -t 5 "$APP-$role" >/dev/null 2>&1 || true
  on "$h" docker rm "$APP-$role" >/dev/null 2>&1 || true
  on "$h" docker run -d --restart unless-stopped --name "$APP-$role" --env-file "$ENV_FILE" "$@" \
      --label "pallet.app=$APP" --label "pallet.role=$role" --label "pallet.tag=$TAG" \
      -v "$dir/storage:/storage" "$IMAGE:$TAG" "$cmd" >/dev/null
}

for h in "${web[@]}"; do restart "$h" web serve -p 8000:8000; done
for h in "${workers[@]}"; do restart "$h" worker worker; done
for h in "${beats[@]}"; do restart "$h" beat beat; done
