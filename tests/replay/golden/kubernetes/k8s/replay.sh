#!/usr/bin/env bash
# Replays the schedule: creates the suspended Jobs, then un-suspends each at its offset.
# Written by workscope (replay export 'kubernetes'). Needs kubectl, awk and GNU date.
set -euo pipefail
cd "$(dirname "$0")"
kubectl apply -n default -f jobs.yaml
t0=$(date +%s.%N)
tail -n +2 schedule.csv | while IFS=, read -r name at; do
  d=$(awk -v a="$at" -v t="$t0" -v n="$(date +%s.%N)" 'BEGIN { d = t + a - n; print (d > 0 ? d : 0) }')
  sleep "$d"
  kubectl patch job -n default "$name" --type=merge -p '{"spec":{"suspend":false}}'
done
