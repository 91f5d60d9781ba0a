#!/usr/bin/env bash
# Release check: do what a new user does on a fresh machine, and say how long it took.
#
#   bash scripts/fresh_machine_check.sh [--keep] [--skip-test] [REF]
#
# Clones REF (default: HEAD of the repository this script lives in) into a new temporary folder, then, with an
# empty HOME (no pip cache, no ~/.cache) and an environment cleared of everything but PATH (and CI), runs the
# README's two commands in the clone: `make demo` (until the app answers on /login/ and the demo's debate is in the
# database, then stopped) and `make test`. Prints a summary table; exits 0 only when both passed.
# See --help for the details and the knobs.
# The cleanup functions run from the EXIT trap, which shellcheck 0.9 takes for unreachable code.
# shellcheck disable=SC2317
set -euo pipefail

PROG=${0##*/}
DEMO_TIMEOUT=${FRESH_CHECK_DEMO_TIMEOUT:-2400}  # the first build of llama.cpp takes 4 to 9 minutes, more on busy cores
TEST_TIMEOUT=${FRESH_CHECK_TEST_TIMEOUT:-3600}
STOP_GRACE_SECONDS=15

usage() {
  cat <<EOF
Usage: bash scripts/$PROG [--keep] [--skip-test] [REF]

A release check that reproduces a new user's first run on a fresh machine:

  1. clone REF (a commit, branch or tag of this repository; default HEAD, so uncommitted changes are NOT
     checked) into a new temporary folder, with a new empty HOME and TMPDIR inside it, PIP_CACHE_DIR unset
     and an environment cleared of everything but PATH (and CI if set), LANG=C.UTF-8, USER, LOGNAME;
  2. run 'make demo' there in its own process group, on free ports (PORT, ARENA_LOCAL_LLM_PORT), wait until
     http://127.0.0.1:PORT/login/ answers 200 (at most FRESH_CHECK_DEMO_TIMEOUT seconds), check that the
     demo's debate is in var/db.sqlite3 with status 'completed' and show whether its verdict parsed, then
     stop the demo's process group and 'manage.py local_llm stop' the local model;
  3. run 'make test' there (at most FRESH_CHECK_TEST_TIMEOUT seconds), also when the demo failed, so that
     one run reports on both;
  4. stop whatever it started (also on Ctrl-C or SIGTERM), print a summary table (step, seconds, result),
     remove the temporary folder on success, keep it on failure (its path is printed).

Options:
  --keep        keep the temporary folder even when everything passed
  --skip-test   stop after the demo (no 'make test')
  -h, --help    this help

Environment (of this script; none of it reaches the clone):
  FRESH_CHECK_DEMO_TIMEOUT  seconds 'make demo' may take until the app answers (default $DEMO_TIMEOUT)
  FRESH_CHECK_TEST_TIMEOUT  seconds 'make test' may take (default $TEST_TIMEOUT)
  TMPDIR                    where the temporary folder is made (default /tmp); it needs about 2 GB

Needs what the README's quick start needs (python3.11, a C/C++ compiler, access to the package registries;
'make test' also root for Debian's Chromium and PostgreSQL/Redis for the scale-out tests), plus git,
setsid and GNU tail. Uses the network only through what the Makefile runs (pip, apt-get).

Exit status: 0 when the demo and the tests passed; 1 when either failed; 2 for a usage or setup error;
130/143 when interrupted.
EOF
}

say() { printf '[fresh-check] %s\n' "$*"; }
warn() { printf '[fresh-check] WARNING: %s\n' "$*" >&2; }
die() { printf '[fresh-check] ERROR: %s\n' "$*" >&2; exit 2; }

KEEP=0
SKIP_TEST=0
REF=
while (($#)); do
  case $1 in
    --keep) KEEP=1 ;;
    --skip-test) SKIP_TEST=1 ;;
    -h | --help) usage; exit 0 ;;
    --) shift; (($# <= 1)) || die "only one REF, not: $*"; REF=${1:-}; break ;;
    -*) printf '%s: unknown option %s\n\n' "$PROG" "$1" >&2; usage >&2; exit 2 ;;
    *) [[ -z $REF ]] || die "only one REF, not '$REF' and '$1'"; REF=$1 ;;
  esac
  shift
done
[[ $DEMO_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "FRESH_CHECK_DEMO_TIMEOUT must be a number of seconds, not '$DEMO_TIMEOUT'"
[[ $TEST_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "FRESH_CHECK_TEST_TIMEOUT must be a number of seconds, not '$TEST_TIMEOUT'"
for tool in git setsid tail ps timeout python3; do
  command -v "$tool" >/dev/null || die "'$tool' is needed and not on PATH"
done

# ---- the state the EXIT trap works from --------------------------------------------------------------------
WORK=            # the temporary folder: repo/ (the clone), home/, tmp/, logs/
REPO=
STARTED_AT=$(date +%s)
STEP_NAMES=() STEP_SECS=() STEP_RESULTS=()
CURRENT_STEP='' CURRENT_STEP_AT=0
GROUP_PIDS=()    # process groups started (their leaders' pids), stopped on the way out
TAIL_PIDS=()
LOCAL_LLM_MAY_RUN=0
LOCAL_LLM_STOP_FAILED=0
FAILED=0
INTERRUPTED=
MY_PGID=$(ps -o pgid= -p $$ | tr -d ' ')

begin_step() { CURRENT_STEP=$1; CURRENT_STEP_AT=$(date +%s); say "== $1"; }
end_step() {  # RESULT: records the current step with its duration
  STEP_NAMES+=("$CURRENT_STEP") STEP_SECS+=("$(($(date +%s) - CURRENT_STEP_AT))") STEP_RESULTS+=("$1")
  CURRENT_STEP=
}
record() { STEP_NAMES+=("$1") STEP_SECS+=("$2") STEP_RESULTS+=("$3"); }

alive() {  # PID: running (a zombie the shell has not reaped yet counts as gone)
  kill -0 "$1" 2>/dev/null && [[ $(ps -o stat= -p "$1" 2>/dev/null) != Z* ]]
}

# Runs CMD... in the clone as the leader of a new session and process group, output to LOG (echoed here).
# Sets GROUP_PID (its pid, which is also its process group id).
start_group() {
  local log=$1 i
  shift
  : >"$log"
  # The subshell is not a process group leader (no job control here), so setsid makes it one without forking:
  # $! is then the pid and the process group id of everything the command starts.
  (cd "$REPO" && exec setsid "$@") </dev/null >"$log" 2>&1 &
  GROUP_PID=$!
  GROUP_PIDS+=("$GROUP_PID")
  for ((i = 0; i < 50; i++)); do
    [[ $(ps -o pgid= -p "$GROUP_PID" 2>/dev/null | tr -d ' ') == "$GROUP_PID" ]] && break
    alive "$GROUP_PID" || break
    sleep 0.1
  done
  tail -n +1 -f --pid="$GROUP_PID" "$log" &
  TAIL_PIDS+=("$!")
}

group_alive() { kill -0 -- "-$1" 2>/dev/null; }

stop_group() {  # PID: TERM its process group, KILL what is left after the grace period, reap the leader
  local pid=$1 i kept=()
  if [[ $pid != "$MY_PGID" ]] && group_alive "$pid"; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_GRACE_SECONDS * 10; i++)); do
      group_alive "$pid" || break
      sleep 0.1
    done
    if group_alive "$pid"; then
      warn "process group $pid ignored SIGTERM for ${STOP_GRACE_SECONDS}s: SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
  # Forgotten once stopped: a pid reused later by someone else's process group must never be signalled.
  for i in "${GROUP_PIDS[@]}"; do [[ $i == "$pid" ]] || kept+=("$i"); done
  GROUP_PIDS=("${kept[@]}")
}

stop_tails() {
  local pid
  for pid in "${TAIL_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  TAIL_PIDS=()
}

stop_local_llm() {
  ((LOCAL_LLM_MAY_RUN)) || return 0
  LOCAL_LLM_MAY_RUN=0
  [[ -x $REPO/.venv/bin/python ]] || return 0
  say "stopping the local model: .venv/bin/python manage.py local_llm stop"
  if ! (cd "$REPO" && timeout 60 "${CLEAN_ENV[@]}" .venv/bin/python manage.py local_llm stop); then
    LOCAL_LLM_STOP_FAILED=1
    warn "'manage.py local_llm stop' failed; the sweep below stops the server if it still runs"
  fi
}

# Every process whose command line or working directory is inside the temporary folder is one this check
# started (the folder's name is new): whatever the steps above left running (a llama-server in a session of its
# own, a test's server) is stopped here, by pid. Prints them; STRAYS holds how many there were.
STRAYS=0
sweep_strays() {
  local proc pid cwd args pids=() left=() i
  for proc in /proc/[0-9]*; do
    pid=${proc#/proc/}
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    args=()
    mapfile -d '' -t args 2>/dev/null <"$proc/cmdline" || continue
    ((${#args[@]})) || continue  # a kernel thread or a zombie
    cwd=$(readlink "$proc/cwd" 2>/dev/null) || cwd=
    if [[ "${args[*]}" == *"$WORK/"* || $cwd == "$WORK" || $cwd == "$WORK/"* ]]; then
      pids+=("$pid")
      warn "still running, stopping it: pid $pid: ${args[*]:0:6}"
    fi
  done
  STRAYS=${#pids[@]}
  ((STRAYS)) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    left=()
    for pid in "${pids[@]}"; do alive "$pid" && left+=("$pid"); done
    ((${#left[@]})) || return 0
    sleep 0.1
  done
  warn "SIGKILL for what ignored SIGTERM: ${left[*]}"
  kill -KILL "${left[@]}" 2>/dev/null || true
}

stop_everything() {
  local pid
  for pid in "${GROUP_PIDS[@]}"; do stop_group "$pid"; done
  GROUP_PIDS=()
  stop_tails
  stop_local_llm
  [[ -n $WORK ]] && sweep_strays
  return 0
}

summary() {
  local i total=$(($(date +%s) - STARTED_AT))
  printf '\n%-44s %8s  %s\n' "step" "seconds" "result"
  printf '%-44s %8s  %s\n' "--------------------------------------------" "--------" "------"
  for i in "${!STEP_NAMES[@]}"; do
    printf '%-44s %8s  %s\n' "${STEP_NAMES[$i]}" "${STEP_SECS[$i]}" "${STEP_RESULTS[$i]}"
  done
  printf '%-44s %8s  %s\n' "total" "$total" "$( ((FAILED)) && echo FAILED || echo ok)"
}

on_exit() {
  local rc=$?
  set +e
  trap '' INT TERM  # cleanup is bounded; let it finish
  if [[ -n $CURRENT_STEP ]]; then
    if [[ -n $INTERRUPTED ]]; then end_step "interrupted ($INTERRUPTED)"; else end_step "aborted (exit $rc)"; fi
    FAILED=1
  fi
  stop_everything
  ((rc == 0)) || FAILED=1
  summary
  if [[ -n $WORK && -d $WORK ]]; then
    if ((FAILED || KEEP)); then
      say "kept the temporary folder: $WORK (logs in $WORK/logs/, the clone in $WORK/repo/)"
    else
      rm -rf -- "$WORK" || warn "could not remove $WORK"
    fi
  fi
  ((rc == 0 && FAILED)) && rc=1
  exit "$rc"
}
on_signal() { INTERRUPTED=$1; exit "$2"; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

http_status() {  # URL: the HTTP status it answers with, 000 when nothing answers
  if command -v curl >/dev/null; then
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" 2>/dev/null || true
  else
    python3 - "$1" <<'PY' 2>/dev/null || echo 000
import sys, urllib.error, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=5).status)
except urllib.error.HTTPError as exc:
    print(exc.code)
except Exception:
    print("000")
PY
  fi
}

# ---- 1. the clone, the empty HOME, the clean environment ------------------------------------------------------
SRC=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel 2>/dev/null) ||
  die "$(dirname "${BASH_SOURCE[0]}") is not inside a git repository"
SHA=$(git -C "$SRC" rev-parse --verify --quiet "${REF:-HEAD}^{commit}") || die "'${REF:-HEAD}' is not a commit of $SRC"
if [[ $SHA == "$(git -C "$SRC" rev-parse HEAD)" && -n $(git -C "$SRC" status --porcelain --untracked-files=no) ]]; then
  warn "$SRC has uncommitted changes: they are NOT part of this check (it clones $(git -C "$SRC" rev-parse --short HEAD))"
fi

# From here on, whatever happens, the EXIT trap stops what was started and prints the summary.
trap on_exit EXIT
trap 'on_signal SIGINT 130' INT
trap 'on_signal SIGTERM 143' TERM
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fresh-machine-check.XXXXXX")
REPO=$WORK/repo
mkdir -p "$WORK/home" "$WORK/tmp" "$WORK/logs"

# PATH as it is, less any virtualenv's bin (an activated venv would hide the one the Makefile makes).
CLEAN_PATH=
IFS=: read -r -a path_dirs <<<"$PATH"
for dir in "${path_dirs[@]}"; do
  if [[ -n ${VIRTUAL_ENV:-} && $dir == "$VIRTUAL_ENV/bin" ]] || [[ -f $dir/activate && -f $dir/../pyvenv.cfg ]]; then
    warn "left out of PATH (a virtualenv): $dir"
    continue
  fi
  CLEAN_PATH=${CLEAN_PATH:+$CLEAN_PATH:}$dir
done
USER_NAME=$(id -un)
CLEAN_ENV=(env -i "PATH=$CLEAN_PATH" "HOME=$WORK/home" "TMPDIR=$WORK/tmp" "LANG=C.UTF-8"
  "USER=$USER_NAME" "LOGNAME=$USER_NAME" "TERM=dumb")
[[ -n ${CI:-} ]] && CLEAN_ENV+=("CI=$CI")

begin_step "clone $(git -C "$SRC" rev-parse --short "$SHA")"
say "source: $SRC at $(git -C "$SRC" log -1 --format='%h %s' "$SHA")"
say "into:   $REPO (HOME=$WORK/home, TMPDIR=$WORK/tmp, logs in $WORK/logs/)"
git clone -q --no-checkout -- "$SRC" "$REPO"
git -C "$REPO" cat-file -e "$SHA^{commit}" 2>/dev/null || git -C "$REPO" fetch -q origin "$SHA" ||
  die "$SHA is not reachable from a branch or tag of $SRC, so the clone does not have it"
git -C "$REPO" -c advice.detachedHead=false checkout -q --detach "$SHA"
end_step ok
say "environment: ${CLEAN_ENV[*]:2}"
say "free space under $WORK: $(df -Ph "$WORK" | awk 'NR == 2 {print $4}')"

# ---- 2. make demo ---------------------------------------------------------------------------------------------
PORT=$(free_port)
LLM_PORT=$(free_port)
while [[ $LLM_PORT == "$PORT" ]]; do LLM_PORT=$(free_port); done
URL=http://127.0.0.1:$PORT
DEMO_LOG=$WORK/logs/demo.log

DEMO_OK=0
begin_step "make demo (until /login/ answers 200)"
say "make demo with PORT=$PORT ARENA_LOCAL_LLM_PORT=$LLM_PORT (output: $DEMO_LOG); waiting at most ${DEMO_TIMEOUT}s"
LOCAL_LLM_MAY_RUN=1
# PYTHONUNBUFFERED only so that the streamed debate reaches the log as it is written, as on a terminal.
start_group "$DEMO_LOG" "${CLEAN_ENV[@]}" "PORT=$PORT" "ARENA_LOCAL_LLM_PORT=$LLM_PORT" "ARENA_SITE_URL=$URL" \
  PYTHONUNBUFFERED=1 make demo
DEMO_PID=$GROUP_PID
deadline=$(($(date +%s) + DEMO_TIMEOUT))
next_note=$(($(date +%s) + 120))
demo_result=
while :; do
  if ! alive "$DEMO_PID"; then
    rc=0
    wait "$DEMO_PID" || rc=$?
    demo_result="FAIL (make demo exited with $rc before serving)"
    break
  fi
  if [[ $(http_status "$URL/login/") == 200 ]]; then
    demo_result=ok
    break
  fi
  now=$(date +%s)
  if ((now >= deadline)); then
    demo_result="FAIL (no 200 on /login/ within ${DEMO_TIMEOUT}s; see FRESH_CHECK_DEMO_TIMEOUT)"
    break
  fi
  if ((now >= next_note)); then
    say "still waiting for $URL/login/ ($((now - CURRENT_STEP_AT))s of ${DEMO_TIMEOUT}s)"
    next_note=$((now + 120))
  fi
  sleep 2
done
sleep 1  # let the echo catch up before this script speaks again
if [[ $demo_result == ok ]]; then
  end_step ok
  say "the app answers 200 on $URL/login/ after ${STEP_SECS[-1]}s"
else
  end_step "$demo_result"
  FAILED=1
  say "the last 60 lines of $DEMO_LOG:"
  tail -n 60 "$DEMO_LOG" | sed 's/^/    | /'
  if [[ -f $REPO/var/local-llm.log ]]; then
    say "the last 20 lines of $REPO/var/local-llm.log:"
    tail -n 20 "$REPO/var/local-llm.log" | sed 's/^/    | /'
  fi
fi

if [[ $demo_result == ok ]]; then
  begin_step "demo debate in var/db.sqlite3"
  rc=0
  "${CLEAN_ENV[@]}" "$REPO/.venv/bin/python" - "$REPO/var/db.sqlite3" <<'PY' || rc=$?
import sqlite3
import sys
from pathlib import Path

db = Path(sys.argv[1])
if not db.is_file():
    sys.exit(f"no database at {db}")
con = sqlite3.connect(db.as_uri() + "?mode=ro", uri=True)
con.row_factory = sqlite3.Row


def columns(table: str) -> set[str]:
    return {row["name"] for row in con.execute(f"PRAGMA table_info({table})")}


needed = {"debates_debate": {"id", "topic", "status"}, "debates_verdict": {"debate_id", "parsed"}}
for table, wanted in needed.items():
    missing = wanted - columns(table)
    if missing:
        sys.exit(f"{table} lacks the columns {sorted(missing)} (is the schema migrated?)")

debates = con.execute("SELECT id, topic, status FROM debates_debate ORDER BY id").fetchall()
listing = ", ".join(f"#{d['id']} {d['status']}" for d in debates) or "none"
print(f"debates in the database: {len(debates)} ({listing})")
done = [d for d in debates if d["status"] == "completed"]
if not done:
    sys.exit("no debate has status 'completed'")
debate = done[-1]
print(f"debate #{debate['id']}: {debate['topic']!r}, status {debate['status']}")
if "debates_turn" in {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}:
    turns = con.execute("SELECT status, COUNT(*) FROM debates_turn WHERE debate_id = ? GROUP BY status",
                        (debate["id"],)).fetchall()
    print("turns: " + (", ".join(f"{row[1]} {row[0]}" for row in turns) or "none"))
have = columns("debates_verdict")
extra = [c for c in ("parse_error", "repaired", "winner_id") if c in have]
verdict = con.execute(f"SELECT {', '.join(['parsed', *extra])} FROM debates_verdict WHERE debate_id = ?",
                      (debate["id"],)).fetchone()
if verdict is None:
    print("verdict: none was saved")
elif verdict["parsed"]:
    winner = None
    winner_id = verdict["winner_id"] if "winner_id" in extra else None
    if winner_id is not None:
        row = con.execute("SELECT display_name FROM debates_seat WHERE id = ?", (winner_id,)).fetchone()
        winner = row[0] if row else f"seat {winner_id}"
    repaired = " after a repair request" if "repaired" in extra and verdict["repaired"] else ""
    print(f"verdict: parsed{repaired}; winner: {winner or 'none'}")
else:
    error = (verdict["parse_error"] if "parse_error" in extra else "").strip().splitlines()
    print(f"verdict: not parsed (expected often from the 270M base model)"
          f"{': ' + error[0][:160] if error else ''}")
PY
  if ((rc == 0)); then
    end_step ok
    DEMO_OK=1
  else
    end_step "FAIL (exit $rc: see the reason above)"
    FAILED=1
  fi
fi

begin_step "stop the demo and the local model"
stop_group "$DEMO_PID"
stop_tails
stop_local_llm
sweep_strays
stop_result=ok
((LOCAL_LLM_STOP_FAILED)) && stop_result="WARN (manage.py local_llm stop failed)"
((STRAYS)) && stop_result="WARN ($STRAYS processes left running, stopped)"
((LOCAL_LLM_STOP_FAILED && STRAYS)) && stop_result="WARN (local_llm stop failed; $STRAYS left, stopped)"
end_step "$stop_result"

# ---- 3. make test ---------------------------------------------------------------------------------------------
TEST_OK=0
if ((SKIP_TEST)); then
  record "make test" 0 "skipped (--skip-test)"
else
  TEST_LOG=$WORK/logs/test.log
  begin_step "make test"
  say "make test (output: $TEST_LOG); waiting at most ${TEST_TIMEOUT}s"
  start_group "$TEST_LOG" "${CLEAN_ENV[@]}" make test
  TEST_PID=$GROUP_PID
  deadline=$(($(date +%s) + TEST_TIMEOUT))
  while alive "$TEST_PID" && (($(date +%s) < deadline)); do sleep 1; done
  if alive "$TEST_PID"; then
    stop_group "$TEST_PID"
    test_result="FAIL (still running after ${TEST_TIMEOUT}s: stopped)"
  else
    rc=0
    wait "$TEST_PID" || rc=$?
    if ((rc == 0)); then test_result=ok; TEST_OK=1; else test_result="FAIL (exit $rc)"; fi
    stop_group "$TEST_PID"  # whatever is left in its process group
  fi
  sleep 1
  stop_tails
  end_step "$test_result"
  ((TEST_OK)) || FAILED=1
  begin_step "leftovers after make test"
  sweep_strays
  if ((STRAYS)); then end_step "WARN ($STRAYS processes left running, stopped)"; else end_step "ok (none)"; fi
fi

((DEMO_OK && (TEST_OK || SKIP_TEST))) || FAILED=1
((FAILED)) && exit 1
exit 0
