/**
 * What the bench reads inside a target process: the app's Prometheus text on `GET /metrics` (prom-client 15's
 * default metrics, public) and the relay's `GET /eventloop`. Both expose a `monitorEventLoopDelay` histogram at a
 * 10 ms resolution that each read resets (prom-client resets it in its collect).
 */
import { sampleSum } from '../test/support/metrics';
import { nowMs, round } from './stats';

/** The histogram's values include its own 10 ms timer interval: an idle loop reads about 10.1 ms. */
export const EVENT_LOOP_RESOLUTION_MS = 10;

/** Event-loop delay inside a target process since the previous read, in ms. */
export interface LoopDelay {
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

/** One read of GET /metrics: when, and each series' value by metric name (labels ignored: the first series). */
export interface MetricsScrape {
  at: number;
  value(name: string): number;
}

const SAMPLE = /^([A-Za-z_:][\w:]*)(?:\{[^}]*\})? (\S+)$/gm;

export async function scrapeMetrics(url: string): Promise<MetricsScrape> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  if (!res.ok) {
    throw new Error(`GET /metrics answered ${res.status}`);
  }
  const values = new Map<string, number>();
  for (const [, name, value] of text.matchAll(SAMPLE)) {
    if (!values.has(name)) {
      values.set(name, Number(value));
    }
  }
  return {
    at: nowMs(),
    value(name) {
      const v = values.get(name);
      if (v === undefined) {
        throw new Error(`GET /metrics has no ${name}`);
      }
      return v;
    },
  };
}

/** The app's (`/metrics`) or the relay's (`/eventloop`) event-loop delay since the previous read; the read resets it. */
export async function readEventLoop(url: string, kind: 'app' | 'relay'): Promise<LoopDelay> {
  if (kind === 'relay') {
    const res = await fetch(`${url}/eventloop`, { signal: AbortSignal.timeout(10_000) });
    const b = (await res.json()) as LoopDelay;
    return roundLoop(b);
  }
  const m = await scrapeMetrics(url);
  const ms = (p: string): number => m.value(`nodejs_eventloop_lag_${p}_seconds`) * 1000;
  return roundLoop({ p50Ms: ms('p50'), p90Ms: ms('p90'), p99Ms: ms('p99'), maxMs: ms('max'), meanMs: ms('mean') });
}

function roundLoop(l: LoopDelay): LoopDelay {
  return {
    p50Ms: round(l.p50Ms),
    p90Ms: round(l.p90Ms),
    p99Ms: round(l.p99Ms),
    maxMs: round(l.maxMs),
    meanMs: round(l.meanMs),
  };
}

/** The delay beyond the histogram's own timer interval. */
export function beyondTick(ms: number | undefined | null): number | undefined {
  return ms === undefined || ms === null ? undefined : round(Math.max(0, ms - EVENT_LOOP_RESOLUTION_MS), 2);
}

/** The search's p99 limit (50 ms) as the histograms' bucket bound. */
const WITHIN_LIMIT = 'le="0.05"';

/**
 * The app's own view of its sends, as counters (a step keeps the differences): `message:send` events from arrival to
 * ack, and the group-commit transactions that stored them (`post_message`, from its statement to its answer, the wait
 * for the group before it not included), each in all and over 50 ms; groups and the sends in them. Where a step's
 * slow acks come from: the client's acks over 50 ms against the app's events over 50 ms (the rest is the way there
 * and back: sockets, the load process, a core to run on) and the transactions over 50 ms (the database's share).
 */
export async function appSendCounters(url: string): Promise<Record<string, number>> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  if (!res.ok) {
    throw new Error(`GET /metrics answered ${res.status}`);
  }
  const send = ['event="message:send"', 'outcome="ok"'];
  const call = ['function="post_message"', 'outcome="ok"'];
  const group = 'function="post_message"';
  const events = sampleSum(text, 'chat_socket_event_duration_seconds_count', ...send);
  const calls = sampleSum(text, 'db_call_duration_seconds_count', ...call);
  return {
    sendEvents: events,
    sendEventsOver50ms: events - sampleSum(text, 'chat_socket_event_duration_seconds_bucket', ...send, WITHIN_LIMIT),
    groupedCalls: calls,
    groupedCallsOver50ms: calls - sampleSum(text, 'db_call_duration_seconds_bucket', ...call, WITHIN_LIMIT),
    sendEventSeconds: sampleSum(text, 'chat_socket_event_duration_seconds_sum', ...send),
    groupedCallSeconds: sampleSum(text, 'db_call_duration_seconds_sum', ...call),
    groups: sampleSum(text, 'db_group_commit_size_count', group),
    groupedSends: sampleSum(text, 'db_group_commit_size_sum', group),
  };
}
