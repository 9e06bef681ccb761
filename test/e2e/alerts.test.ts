import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { IndexerMetrics } from '../../src/worker/metrics';
import { ALERTS_FILE, ALERTS_TEST_FILE, DASHBOARD_FILE, PROMETHEUS_CONFIG, exposedMetricNames, metricsReadByAlertsAndDashboard } from '../helpers/metric-names';

/**
 * The alert rules, their unit tests and the compose Prometheus config, checked by promtool (Debian's
 * `prometheus` package; scripts/install-promtool.sh, which .ci/run calls). Missing promtool is a
 * failure, not a skip: rules nobody checked are rules that may never fire.
 */

function promtool(args: string[], cwd: string): { code: number | null; output: string } {
  const run = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  if (run.error) assert.fail(`promtool is not installed (${run.error.message}): run bash scripts/install-promtool.sh`);
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
}

test('promtool check rules: the alert rules are valid', () => {
  const { code, output } = promtool(['check', 'rules', path.basename(ALERTS_FILE)], path.dirname(ALERTS_FILE));
  assert.equal(code, 0, output);
  assert.match(output, /SUCCESS: 10 rules found/);
});

test('promtool test rules: every alert fires where it should and stays quiet where it should not', () => {
  const { code, output } = promtool(['test', 'rules', path.basename(ALERTS_TEST_FILE)], path.dirname(ALERTS_TEST_FILE));
  assert.equal(code, 0, output);
  assert.match(output, /SUCCESS/);
  // Each rule has a case where it fires (a rule without one could be dead).
  const rules = [...readFileSync(ALERTS_FILE, 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);
  const tests = readFileSync(ALERTS_TEST_FILE, 'utf8');
  const firing = new Set([...tests.matchAll(/alertname: (\w+)\n\s+exp_alerts:\n\s+- exp_labels/g)].map((m) => m[1]!));
  assert.deepEqual(rules.filter((r) => !firing.has(r)), [], 'rules without a firing test case');
});

test('promtool check config: the compose Prometheus config and the rules it loads', () => {
  const { code, output } = promtool(['check', 'config', path.basename(PROMETHEUS_CONFIG)], path.dirname(PROMETHEUS_CONFIG));
  assert.equal(code, 0, output);
});

test('the alerts and the Grafana dashboard read only metrics the worker exports', () => {
  const read = metricsReadByAlertsAndDashboard();
  assert.ok(read.length > 15, `found the metrics they read (${read.length})`);
  JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')); // valid JSON
  // Ours, from the registry (default process metrics included); the Temporal SDK's own are
  // checked against a live worker's /metrics in operations.test.ts.
  const metrics = new IndexerMetrics();
  return metrics.registry.metrics().then((text) => {
    const ours = exposedMetricNames(text);
    const missing = read.filter((name) => name.startsWith('indexer_') && !ours.has(name));
    assert.deepEqual(missing, [], 'metrics read by alerts or the dashboard that IndexerMetrics does not define');
  });
});
