#!/usr/bin/env bash
# The test command (npm test): builds, then runs the unit, integration and e2e projects in
# IKS_TEST_SHARDS jest processes side by side (jest --shard), each suite still in band within its
# shard. The suites mostly wait on the broker and on timers (load stays under 1 on two cores with
# one process), so two shards take about half the wall time. Every test uses its own topics and
# group ids (TOPIC_PREFIX), and the e2e suites that kill a broker start a private one, so shards
# do not see each other. Each shard's lines are prefixed [k/n]. A suite that failed is run once
# more, alone, after the shards (a broker shared by two processes can stall a group join or a
# topic's leaders now and then): the status is that second run's, and both the failure and the
# second run's result are printed, so a flaky suite is named on every run rather than hidden.
# IKS_TEST_RERUN=0 turns the second run off. IKS_TEST_SHARDS=1 runs one process, as before.
# Extra arguments go to jest.
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

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT
pids=()
for k in $(seq 1 "$shards"); do
  (
    "${jest[@]}" --shard="$k/$shards" --json --outputFile="$results/shard-$k.json" "$@" 2>&1 |
      sed -u "s/^/[$k\/$shards] /"
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
[ "$status" -eq 0 ] && exit 0

# the suites that failed, from the shards' JSON results; none found (a shard that crashed) is a failure as is
mapfile -t failed < <(node -e '
  const fs = require("fs");
  const seen = new Set();
  for (const f of fs.readdirSync(process.argv[1])) {
    const r = JSON.parse(fs.readFileSync(`${process.argv[1]}/${f}`, "utf8"));
    for (const t of r.testResults) if (t.status === "failed") seen.add(t.name);
  }
  for (const n of seen) console.log(n);
' "$results" 2>/dev/null)
expected=0
for k in $(seq 1 "$shards"); do [ -s "$results/shard-$k.json" ] && expected=$((expected + 1)); done
if [ "${IKS_TEST_RERUN:-1}" = "0" ] || [ "${#failed[@]}" -eq 0 ] || [ "$expected" -ne "$shards" ] || [ "${#failed[@]}" -gt 3 ]; then
  echo "[test] failed (exit $status)${failed[*]:+: ${failed[*]}}"
  exit "$status"
fi
echo "[test] ${#failed[@]} suite(s) failed in the shards, run once more alone: ${failed[*]}"
"${jest[@]}" "$@" -- "${failed[@]}"
again=$?
if [ "$again" -eq 0 ]; then
  echo "[test] FLAKY: ${failed[*]} failed in the shards and passed alone (see the failure above)"
else
  echo "[test] failed again alone (exit $again): ${failed[*]}"
fi
exit "$again"
