// Splits the suites between `jest --shard` processes by how long they take (scripts/test.sh runs
// them side by side), not by jest's default hash of the path: one 3-minute chaos suite and a
// dozen one-minute e2e suites in one shard would leave the other idle. A suite's seconds come
// from test/suite-seconds.json (one process's run on the stack; refresh it when a suite's time
// changes much); a suite not there counts 0.5 s (unit) or 10 s (integration, e2e). Longest first,
// each to the shard with the least so far; within a shard jest's own order (slowest first).
const path = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;
const seconds = require('./suite-seconds.json');

const root = path.join(__dirname, '..');

function weight(test) {
  const known = seconds[path.relative(root, test.path).split(path.sep).join('/')];
  if (known !== undefined) return known;
  return test.path.endsWith('.integration-spec.ts') || test.path.endsWith('.e2e-spec.ts') ? 10 : 0.5;
}

class BalancedSequencer extends Sequencer {
  shard(tests, { shardIndex, shardCount }) {
    const sorted = [...tests].sort((a, b) => weight(b) - weight(a) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const loads = new Array(shardCount).fill(0);
    const picked = Array.from({ length: shardCount }, () => []);
    for (const t of sorted) {
      const i = loads.indexOf(Math.min(...loads));
      loads[i] += weight(t);
      picked[i].push(t);
    }
    return picked[shardIndex - 1];
  }
}

module.exports = BalancedSequencer;
