#!/usr/bin/env bash
# Quick start: install mailwizard into ./.venv and run the wizard in dry-run mode for a
# Rocky Linux 9 target with the built-in demo answers. Nothing on this machine is changed.
# In a terminal the interactive wizard opens; without one the plan is printed.
# Extra arguments go to mailwizard (e.g. ./run.sh --platform debian12, or ./run.sh plan --diff).
# ./run.sh --rehearse: apply, verify, roll back and resume for real on a scratch copy
# ($TMPDIR/mailwizard-rehearsal-<platform>; run it again to resume), still nothing changed here.
set -euo pipefail
cd "$(dirname "$0")"
. ./scripts/venv.sh
ensure_venv .venv ""
# a rehearsal keeps its scratch copy in a directory of its own (mailwizard picks it)
state=(--state-dir "${TMPDIR:-/tmp}/mailwizard-demo-state")
for arg in "$@"; do
  if [ "$arg" = --rehearse ]; then state=(); fi
done
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then
  verb=$1; shift
  exec .venv/bin/mailwizard "$verb" --dry-run --answers demo --platform rocky9 \
    ${state[@]+"${state[@]}"} "$@"
fi
exec .venv/bin/mailwizard --dry-run --answers demo --platform rocky9 \
  ${state[@]+"${state[@]}"} "$@"
