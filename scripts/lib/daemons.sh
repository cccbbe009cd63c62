# Shared by the local stage's scripts: background processes started and stopped by their pid,
# and the address containers reach this machine on. Source it; it defines functions only.

# The address of Docker's default bridge on this machine (172.17.0.1 unless configured
# otherwise): containers, and the containers inside the local stage's host, reach it.
bridge_address() {
  ip -4 -o addr show dev docker0 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n1
}

# start_time PID: when the process PID started (in clock ticks since boot, /proc/PID/stat field 22).
start_time() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }

# pid_alive PIDFILE WORD: true when the process PIDFILE names is still the one started, so a pid
# the kernel has given to another process since is never taken for ours: it must have the same
# start time, and a command line containing WORD.
pid_alive() {
  local pid started
  [ -r "$1" ] && read -r pid started <"$1" || return 1
  [ -n "$pid" ] && [ -n "$started" ] && [ "$(start_time "$pid")" = "$started" ] &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"
}

# start_daemon PIDFILE LOG COMMAND...: start COMMAND in the background; its pid and start time go
# to PIDFILE. The daemon gets a session of its own (setsid; a background job of this
# non-interactive shell leads no group, so setsid needs no fork and the pid stays the one started)
# and no terminal: it outlives whatever started it - an Ansible worker, whose process group may
# be signalled as a whole, or a terminal that closes - and only stop_daemon ends it.
start_daemon() {
  local pidfile=$1 log=$2 pid
  shift 2
  setsid "$@" >"$log" 2>&1 </dev/null &
  pid=$!
  echo "$pid $(start_time "$pid")" >"$pidfile"
}

# stop_daemon PIDFILE WORD: stop the process PIDFILE names (if it is still ours) and wait for it.
stop_daemon() {
  local pidfile=$1 word=$2 pid
  if pid_alive "$pidfile" "$word"; then
    read -r pid _ <"$pidfile"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# wait_until SECONDS COMMAND...: poll COMMAND twice a second until it succeeds or time is up.
wait_until() {
  local tries=$(($1 * 2))
  shift
  for _ in $(seq 1 "$tries"); do "$@" && return 0; sleep 0.5; done
  return 1
}

# need_package PACKAGE COMMAND: install the Debian package when COMMAND is missing.
need_package() {
  command -v "$2" >/dev/null 2>&1 && return 0
  echo "local: installing Debian's $1"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >/dev/null 2>&1 ||
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq --no-install-recommends "$1" >/dev/null; }
}
