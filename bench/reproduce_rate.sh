#!/usr/bin/env bash
# make reproduce-rate RUNS=10 MODE=legacy SCENARIO=race — run `make reproduce-outage` RUNS times in a
# row and report how many ended as the mode promises (legacy: the outage reproduced; safe: no harm)
# and how long each took (reset included). SCENARIO=cascade-full takes DWFM_MODE, NLB_MODE, NETMGR_MODE
# (or CASCADE_MODE) from make. Logs: store/reproduce-rate/<UTC time>-<mode>-<scenario>/run-N.log
set -uo pipefail
runs=${1:-10} scenario=${2:-race} mode=${3:-legacy}
# The cascade's scenarios are about the lease manager: its design (DWFM_MODE, passed through by make)
# names the folder and decides what the run promises (legacy: collapsed; safe: recovered by itself).
label=$mode promised=$([ "$mode" = safe ] && echo "no harm" || echo reproduced)
case "$scenario" in
  cascade) label="dwfm-${DWFM_MODE:-legacy}"
           promised=$([ "${DWFM_MODE:-legacy}" = safe ] && echo "recovered by itself" || echo "collapsed");;
  cascade-mitigate) label="dwfm-${DWFM_MODE:-legacy}"
           promised="collapsed, a restart alone collapsed again, throttle plus restart recovered";;
  # The whole cascade: the three downstream designs name the folder (CASCADE_MODE=X sets all three).
  cascade-full) label="dwfm-${DWFM_MODE:-legacy}-nlb-${NLB_MODE:-legacy}-netmgr-${NETMGR_MODE:-${NLB_MODE:-legacy}}"
           case "${DWFM_MODE:-legacy}/${NLB_MODE:-legacy}/${NETMGR_MODE:-${NLB_MODE:-legacy}}" in
             safe/safe/safe) promised="only the DNS window (and the leases lapsing under it); (7), (8), (9) held";;
             legacy/legacy/legacy) promised="every window: DNS, leases, networking, capacity, clients; (8), (9) broken";;
             *) promised="ran (mixed designs promise nothing)";;
           esac;;
esac
dir="store/reproduce-rate/$(date -u +%Y%m%dT%H%M%SZ)-$label-$scenario"
mkdir -p "$dir"
ok=0 times=()
for n in $(seq 1 "$runs"); do
  start=$(date +%s)
  if make --no-print-directory reproduce-outage SCENARIO="$scenario" MODE="$mode" >"$dir/run-$n.log" 2>&1; then
    ok=$((ok + 1)); verdict=$promised
  else
    verdict="FAILED: $(grep -h -e 'NOT REPRODUCED' -e 'NOT SAFE' -e '^reproduce-outage:' "$dir/run-$n.log" | head -n 1)"
  fi
  took=$(( $(date +%s) - start )); times+=("$took")
  attempts=$(grep -ho 'attempts: [0-9]*' "$dir/run-$n.log" | head -n 1)
  echo "run $n/$runs: $verdict in ${took} s (${attempts:-attempts: ?})"
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
echo "as promised $ok of $runs (mode $label, scenario $scenario); seconds per run incl. reset: min $(echo "$sorted" | head -n1), max $(echo "$sorted" | tail -n1)" | tee "$dir/summary.txt"
[ "$ok" -eq "$runs" ]
