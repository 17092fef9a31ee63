#!/usr/bin/env bash
# The test command (npm test): builds, then runs the unit, integration and e2e projects in
# IKS_TEST_SHARDS jest processes side by side (jest --shard), each suite still in band within its
# shard. The suites mostly wait on the broker and on timers (load stays under 1 on two cores with
# one process), so two shards take about half the wall time. Every test uses its own topics and
# group ids (TOPIC_PREFIX), and the e2e suites that kill a broker start a private one, so shards
# do not see each other. Each shard's lines are prefixed [k/n]; the exit status is the first
# failing shard's. IKS_TEST_SHARDS=1 runs one process, as before. Extra arguments go to jest.
set -uo pipefail
cd "$(dirname "$0")/.."

shards="${IKS_TEST_SHARDS:-2}"
if ! [[ "$shards" =~ ^[1-9][0-9]?$ ]]; then
  echo "IKS_TEST_SHARDS must be a whole number from 1 to 99 (got \"$shards\")" >&2
  exit 2
fi

npm run build --silent || { echo "npm test: the build failed" >&2; exit 1; }

jest=(npx jest --selectProjects unit integration e2e --runInBand --forceExit)
if [ "$shards" -eq 1 ]; then
  exec "${jest[@]}" "$@"
fi

pids=()
for k in $(seq 1 "$shards"); do
  (
    "${jest[@]}" --shard="$k/$shards" "$@" 2>&1 | sed -u "s/^/[$k\/$shards] /"
    exit "${PIPESTATUS[0]}"
  ) &
  pids+=("$!")
done

status=0
for k in $(seq 1 "$shards"); do
  wait "${pids[$((k - 1))]}"
  rc=$?
  echo "[test] shard $k/$shards exited $rc"
  [ "$status" -eq 0 ] && [ "$rc" -ne 0 ] && status=$rc
done
exit "$status"
