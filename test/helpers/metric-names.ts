import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './workers';

export const ALERTS_FILE = path.join(REPO_ROOT, 'deploy', 'prometheus', 'alerts.yml');
export const ALERTS_TEST_FILE = path.join(REPO_ROOT, 'deploy', 'prometheus', 'alerts.test.yml');
export const PROMETHEUS_CONFIG = path.join(REPO_ROOT, 'deploy', 'prometheus', 'prometheus.yml');
export const DASHBOARD_FILE = path.join(REPO_ROOT, 'deploy', 'grafana', 'dashboards', 'indexer.json');

/** Metric names in PromQL text (histogram series by their base name); `up` is Prometheus' own. */
export function metricNamesIn(promql: string): string[] {
  const names = [...promql.matchAll(/\b((?:indexer|temporal)_[a-z0-9_]+)\b/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''));
  return [...new Set(names)];
}

/** Every metric the alert rules and the Grafana dashboard read. */
export function metricsReadByAlertsAndDashboard(): string[] {
  const alerts = readFileSync(ALERTS_FILE, 'utf8')
    .split('\n')
    .filter((line) => !line.trim().startsWith('#') && !/^\s*(summary|description):/.test(line))
    .join('\n');
  const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { panels: Array<{ targets?: Array<{ expr: string }> }>; templating: { list: Array<{ definition?: string }> } };
  const exprs = [
    alerts,
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...dashboard.templating.list.map((v) => v.definition ?? ''),
  ];
  return [...new Set(exprs.flatMap(metricNamesIn))].sort();
}

/** Names declared in a /metrics exposition (`# TYPE name kind`). */
export function exposedMetricNames(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
}
