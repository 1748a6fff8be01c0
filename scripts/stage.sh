#!/usr/bin/env bash
# One stage of `make install`: runs a command with all its output appended to
# the install log and prints one line: the stage, ok or FAILED, the time taken
# and the summary the command wrote to file descriptor 3 (if any). A failure
# names the stage and the log and shows the log's last lines.
# Usage: scripts/stage.sh LOG "stage name" command [args...]
set -uo pipefail
log=$1 name=$2
shift 2
mkdir -p "$(dirname "$log")"
printf '\n==== %s: %s (%s)\n' "$(date -u +%FT%TZ)" "$name" "$*" >>"$log"
started=$SECONDS
# fd 3 goes to the captured summary; stdout and stderr go to the log.
summary=$("$@" 3>&1 >>"$log" 2>&1)
status=$?
took=$((SECONDS - started))
if [ "$status" -ne 0 ]; then
    echo "install: ${name}: FAILED after ${took}s (exit ${status}); full log: ${log}" >&2
    echo "---- last lines of ${log}:" >&2
    tail -n 15 "$log" >&2
    exit "$status"
fi
echo "install: ${name}: ok (${took}s)${summary:+; ${summary}}"
