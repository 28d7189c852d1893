#!/usr/bin/env bash
# Jobs that outlive a device call, so that one warm machine trains while
# later calls carry the next dataset or a browser part (each call carries
# at most 64 MiB; the machine goes back 30 s after a call, and a process of
# a call is killed when the call returns unless it started its own session).
#
#   bash tools/gpu/bg.sh start NAME COMMAND...   run COMMAND in a new session from a copy
#                                                of tools/ and models/toolchain/ in /tmp/ck
#                                                (the call's checkout is replaced by the next
#                                                call's); output in /tmp/bg/NAME.log
#   bash tools/gpu/bg.sh wait [SECONDS]          wait until every job has ended (at most
#                                                SECONDS, default 480), then print each log
#   bash tools/gpu/bg.sh list                    the jobs and whether they still run
#
# Paths a job names must outlive the call too: copy datasets to /tmp first
# (e.g. `cp -r .dsc/X /tmp/X`). Example, three calls on one machine:
#   bash tools/gpu/bg.sh start ed0 env SEED=0 RUNS=ours bash tools/gpu/five_clips.sh /tmp/Ed
#   ... calls that only stash browser parts ...
#   bash tools/gpu/bg.sh wait 300 && bash /tmp/brw/run.sh go
set -uo pipefail
BG=/tmp/bg
CK=/tmp/ck
mkdir -p "$BG"
case "${1:-}" in
  start)
    name=${2:?name}; shift 2
    if [ ! -d "$CK/tools" ]; then
      mkdir -p "$CK/models" && cp -r tools "$CK/" && cp -r models/toolchain "$CK/models/" || exit 1
      for d in .gl .bin .whl; do [ -e "$d" ] && cp -r "$d" "$CK/"; done
    fi
    # A job's own OUT: the call's $OUT is emptied before the next call.
    mkdir -p "$BG/$name.out"
    (cd "$CK" && OUT="$BG/$name.out" setsid "$@" </dev/null >"$BG/$name.log" 2>&1 & echo $! >"$BG/$name.pid")
    sleep 1
    echo "started $name (pid $(cat "$BG/$name.pid")): $*" >&2
    ;;
  wait)
    limit=${2:-480}
    t0=$SECONDS
    while [ $((SECONDS - t0)) -lt "$limit" ]; do
      running=0
      for p in "$BG"/*.pid; do [ -e "$p" ] && kill -0 "$(cat "$p")" 2>/dev/null && running=1; done
      [ $running = 0 ] && break
      sleep 5
    done
    for p in "$BG"/*.pid; do
      [ -e "$p" ] || continue
      n=$(basename "$p" .pid)
      if kill -0 "$(cat "$p")" 2>/dev/null; then echo "== $n: still running after $limit s"; else echo "== $n: ended"; fi
      cat "$BG/$n.log"
    done
    ;;
  list)
    for p in "$BG"/*.pid; do
      [ -e "$p" ] || continue
      n=$(basename "$p" .pid)
      if kill -0 "$(cat "$p")" 2>/dev/null; then echo "$n running"; else echo "$n ended"; fi
    done
    ;;
  *)
    sed -n '2,20p' "$0" >&2
    exit 2
    ;;
esac
