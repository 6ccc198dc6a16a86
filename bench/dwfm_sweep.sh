#!/usr/bin/env bash
# make dwfm-sweep NS="40 70 100 130 200 300" — the legacy lease manager's threshold on the live stack.
#
# For each N: `make reproduce-outage SCENARIO=cascade DWFM_MODE=legacy` with DROPLETS=N at the test stack's
# times (renew 10 s, TTL 15 s, timeout 1 s: a run takes about 3 minutes), watching for OBSERVE_S after DNS is
# back and stopping early when 95 % are leased again. Each run's results.json gives the recovery time (the
# checker's (7) measures; none if it never came) and dwfm's measured operation time, hence μ = c / op and
# N/(μτ). bench/dwfm_sweep.py turns the runs into the table and the plot (sweep.svg) beside them.
set -uo pipefail
ns=${*:-40 70 100 130 200 300}
dir="store/dwfm-sweep/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$dir"
export DWFM_RENEW_MS=${DWFM_RENEW_MS:-10000} DWFM_TTL_MS=${DWFM_TTL_MS:-15000} DWFM_TIMEOUT_MS=${DWFM_TIMEOUT_MS:-1000}
for n in $ns; do
  start=$(date +%s)
  DROPLETS=$n make --no-print-directory reproduce-outage SCENARIO=cascade MODE=legacy DWFM_MODE=legacy \
    OBSERVE_S="${OBSERVE_S:-240}" >"$dir/run-$n.log" 2>&1
  folder=$(grep -o 'store/reproduce-outage/[^ ]*/history.jsonl' "$dir/run-$n.log" | head -n 1)
  echo "N=$n: $(( $(date +%s) - start )) s, ${folder:-no history}"
  [ -n "$folder" ] && echo "$n $(dirname "$folder")" >>"$dir/runs.txt"
done
PYTHONPATH=services/common:services/lab /usr/bin/python3 bench/dwfm_sweep.py "$dir"
