/**
 * The alerting rules and the Grafana dashboard of deploy/: promtool checks the rules and runs their unit tests, and
 * every metric a rule or a panel names must be in a live `/metrics` scrape of the app after a little traffic
 * (promtool accepts rules on metrics that do not exist, so that is the check that a rename breaks). Also the
 * metrics an alert reads that the app added for them: socket event latency, and the database being down.
 */
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { parse as parseYaml } from 'yaml';
import { createAiRoom, useAiApp, watchRoom } from '../support/ai-helpers';
import { eventually } from '../support/eventually';
import { HttpClient, signUp } from '../support/http-client';
import { createDatabase } from '../support/postgres-server';
import { ack } from '../support/socket-client';
import { startTestApp, type TestApp } from '../support/test-app';

const ROOT = join(__dirname, '..', '..');
const ALERTS = 'deploy/prometheus/alerts.yml';
const ALERT_TESTS = 'deploy/prometheus/alerts.test.yml';
const DASHBOARD = 'deploy/grafana/chat-backend.json';
const RUNBOOK = 'deploy/prometheus/README.md';

/** Metrics that come from other exporters than the app: Prometheus itself, and kube-state-metrics. */
const OTHER_EXPORTERS = new Set(['up', 'kube_pod_container_status_restarts_total']);

/** Grafana's interval macros stand for a duration; PromQL needs one there to parse. */
const GRAFANA_MACROS = /\$\{?__(rate_interval|interval|range)\}?/g;

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface Panel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

function read(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

function rulesOf(): Rule[] {
  const doc = parseYaml(read(ALERTS)) as { groups: { rules: Rule[] }[] };
  return doc.groups.flatMap((group) => group.rules);
}

/** Every panel's query, rows' nested panels included, with where it is. */
function panelQueries(): { where: string; expr: string }[] {
  const dashboard = JSON.parse(read(DASHBOARD)) as { panels: Panel[] };
  const queries: { where: string; expr: string }[] = [];
  const visit = (panels: Panel[]) => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) {
        if (target.expr) {
          queries.push({ where: `panel "${panel.title}"`, expr: target.expr });
        }
      }
      visit(panel.panels ?? []);
    }
  };
  visit(dashboard.panels);
  return queries;
}

/** Every query of the rules and the dashboard, with where it is. */
function allQueries(): { where: string; expr: string }[] {
  return [...rulesOf().map((rule) => ({ where: `alert ${rule.alert}`, expr: rule.expr })), ...panelQueries()];
}

/**
 * The metric names a PromQL expression selects, read from its syntax tree (`@prometheus-io/lezer-promql`, the
 * grammar of Prometheus's own UI). Throws on a syntax error, or on a selector without a metric name.
 */
function metricNamesOf(query: string): string[] {
  const expr = query.replace(GRAFANA_MACROS, '5m');
  const names = new Set<string>();
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) {
        throw new Error(`syntax error at ${node.from}: …${expr.slice(node.from, node.from + 40)}… in ${expr}`);
      }
      if (node.name === 'VectorSelector') {
        const name = node.node.getChild('Identifier');
        if (!name) {
          throw new Error(`a selector without a metric name: ${expr.slice(node.from, node.to)}`);
        }
        names.add(expr.slice(name.from, name.to));
      }
    },
  });
  return [...names];
}

/** The metric names of a scrape's samples (a histogram's series are `_bucket`, `_sum` and `_count`). */
function scrapedNames(text: string): Set<string> {
  return new Set(
    text
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => line.split(/[{ ]/, 1)[0]),
  );
}

/** `where: name` for each metric a query names that is neither scraped nor from another exporter. */
function missingMetrics(queries: { where: string; expr: string }[], scraped: Set<string>): string[] {
  return queries.flatMap(({ where, expr }) =>
    metricNamesOf(expr)
      .filter((name) => !scraped.has(name) && !OTHER_EXPORTERS.has(name))
      .map((name) => `${where}: ${name}`),
  );
}

function findPromtool(): string {
  const candidates = [
    '/usr/bin/promtool',
    ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'promtool')),
  ];
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // try the next one
    }
  }
  throw new Error(
    'promtool not found in /usr/bin or on PATH: the alert rules cannot be checked. ' +
      "On Debian: apt-get install --no-install-recommends prometheus (promtool is in Debian's prometheus package)",
  );
}

function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  const file = findPromtool();
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

async function scrape(url: string): Promise<string> {
  const res = await new HttpClient(url).get('/metrics');
  expect(res.status).toBe(200);
  return String(res.body);
}

/** The value of one sample of a scrape (`name{labels}` as written), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('alerts and dashboard (deploy/prometheus, deploy/grafana)', () => {
  describe('promtool', () => {
    it(`should accept ${ALERTS} (promtool check rules)`, async () => {
      const { code, output } = await promtool('check', 'rules', ALERTS);

      expect({ code, output }).toEqual({ code: 0, output: expect.stringContaining('SUCCESS') });
    });

    it(`should pass the rules' unit tests, each alert firing on a bad series and quiet on a good one (${ALERT_TESTS})`, async () => {
      const { code, output } = await promtool('test', 'rules', ALERT_TESTS);

      expect({ code, output }).toEqual({ code: 0, output: expect.stringContaining('SUCCESS') });
      const { tests } = parseYaml(read(ALERT_TESTS)) as {
        tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
      };
      const checks = tests.flatMap((test) => test.alert_rule_test ?? []);
      const fires = new Set(checks.filter((c) => (c.exp_alerts ?? []).length > 0).map((c) => c.alertname));
      const quiet = new Set(checks.filter((c) => (c.exp_alerts ?? []).length === 0).map((c) => c.alertname));
      const untested = rulesOf()
        .map((rule) => rule.alert)
        .filter((alert) => !fires.has(alert) || !quiet.has(alert));
      expect(untested).toEqual([]);
    });
  });

  describe('each alert', () => {
    const runbook = read(RUNBOOK);
    const anchors = new Set(
      [...runbook.matchAll(/^#+ (.+)$/gm)].map((m) =>
        m[1]
          .trim()
          .toLowerCase()
          .replace(/[^\w\- ]/g, '')
          .replace(/ /g, '-'),
      ),
    );

    it.each(rulesOf().map((rule) => [rule.alert, rule]))(
      'should have a for:, a severity, a summary, a description and a runbook section: %s',
      (_name, rule) => {
        expect(rule.for).toMatch(/^\d+[smh]$/);
        expect(['warning', 'critical']).toContain(rule.labels?.severity);
        expect(rule.annotations?.summary).toEqual(expect.any(String));
        expect(rule.annotations?.description).toEqual(expect.any(String));
        const [file, anchor] = (rule.annotations?.runbook_url ?? '').split('#');
        expect(file).toBe(RUNBOOK);
        expect(anchors).toContain(anchor);
      },
    );
  });

  describe('the metric-name check', () => {
    const scraped = new Set(['chat_socket_event_duration_seconds_count', 'chat_socket_events_total']);

    it('should report a misspelt metric as missing', () => {
      expect(
        missingMetrics([{ where: 'panel "p"', expr: 'rate(chat_socket_event_duration_secnds_count[5m])' }], scraped),
      ).toEqual(['panel "p": chat_socket_event_duration_secnds_count']);
    });

    it('should read names from the syntax tree, not from label values, function names or grouping labels', () => {
      const expr =
        'sum by (event) (rate(chat_socket_events_total{event="not_a_metric"}[$__rate_interval])) / ' +
        'on (event) sum by (event) (rate(chat_socket_event_duration_seconds_count[5m])) or vector(0)';

      expect(missingMetrics([{ where: 'q', expr }], scraped)).toEqual([]);
      expect(metricNamesOf(expr).sort()).toEqual([
        'chat_socket_event_duration_seconds_count',
        'chat_socket_events_total',
      ]);
    });

    it('should fail on a query that does not parse', () => {
      expect(() => metricNamesOf('rate(chat_socket_events_total[5m]')).toThrow(/syntax error/);
    });
  });

  describe('against a live /metrics scrape', () => {
    const t = useAiApp();

    it('should scrape every metric the alerts and the dashboard name, after HTTP, socket and AI traffic', async () => {
      // HTTP: sign-up and a room; a socket: join, a send acked, and the AI reply it asks for, to its end.
      const owner = await signUp(t.url, 'obs');
      const room = await createAiRoom(owner, { mode: 'always' });
      const { socket, log } = await watchRoom(t.sockets, owner, room.id);
      const sent = await ack(socket, 'message:send', { roomId: room.id, content: 'hello', clientId: 'obs-1' });
      expect(sent).toMatchObject({ ok: true, message: { content: 'hello' } });
      const reply = await log.reply(sent.message.id);
      expect(reply.final.status).toBe('complete');

      const text = await scrape(t.url);

      // What a user did shows: the send's ack time, under its event and outcome.
      expect(sample(text, 'chat_socket_event_duration_seconds_count{event="message:send",outcome="ok"}')).toBe(1);
      expect(sample(text, 'chat_socket_event_duration_seconds_count{event="room:join",outcome="ok"}')).toBe(1);
      expect(sample(text, 'chat_dependency_up{dependency="database"}')).toBe(1);
      expect(sample(text, 'chat_ai_replies_total{outcome="complete"}')).toBe(1);
      // No rule or panel names a metric the app does not expose.
      expect(missingMetrics(allQueries(), scrapedNames(text))).toEqual([]);
    });
  });

  describe('chat_dependency_up{dependency="database"}', () => {
    let proxy: TcpProxy;
    let app: TestApp;

    beforeAll(async () => {
      const databaseUrl = await createDatabase(process.env.TEST_PG_URL ?? '');
      proxy = await startTcpProxy(databaseUrl);
      // The same database, through the proxy: `block()` drops its connections and refuses new ones until `unblock()`.
      const throughProxy = new URL(databaseUrl);
      throughProxy.hostname = '127.0.0.1';
      throughProxy.port = new URL(proxy.url).port;
      app = await startTestApp({ DATABASE_URL: throughProxy.toString() });
    });

    afterAll(async () => {
      proxy?.unblock();
      await app?.close();
      await proxy?.close();
    });

    it('should be 0 while the database is unreachable, as readiness says, and 1 again once it is back', async () => {
      const up = async () => sample(await scrape(app.url), 'chat_dependency_up{dependency="database"}');
      expect(await up()).toBe(1);

      proxy.block();

      expect(await up()).toBe(0);
      expect((await new HttpClient(app.url).get('/health/ready')).status).toBe(503);

      proxy.unblock();

      await eventually(async () => (await up()) === 1, 'chat_dependency_up back to 1');
      expect((await new HttpClient(app.url).get('/health/ready')).status).toBe(200);
    });
  });
});
