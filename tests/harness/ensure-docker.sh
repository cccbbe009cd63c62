#!/usr/bin/env bash
# Make sure a Docker engine answers. CI machines start with none: install Debian's docker.io
# and start dockerd in the background (these machines run no systemd as PID 1).
set -euo pipefail

engine_answers() { docker info >/dev/null 2>&1; }

if engine_answers; then
  echo "docker-engine: the engine answers"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "docker-engine: installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi

if [ -d /run/systemd/system ]; then
  systemctl start docker
else
  echo "docker-engine: starting dockerd in the background (log: /var/log/dockerd.log)"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
fi

for _ in $(seq 1 60); do
  if engine_answers; then
    echo "docker-engine: the engine answers"
    exit 0
  fi
  sleep 1
done
echo "docker-engine: dockerd did not answer within 60 s; see /var/log/dockerd.log" >&2
tail -n 20 /var/log/dockerd.log >&2 || true
exit 1
