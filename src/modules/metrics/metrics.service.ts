import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What `chat_dependency_up` reports on: the database always, Redis where configured. */
export type Dependency = 'database' | 'redis';

/** One registry per app instance (tests run several in one process), with the process defaults. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpRequests = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly databaseCalls = new Histogram({
    name: 'db_call_duration_seconds',
    help: 'Database function calls by function and outcome',
    labelNames: ['function', 'outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly databaseGroups = new Histogram({
    name: 'db_group_commit_size',
    help: 'Calls per group commit (several sends in one transaction), by function',
    labelNames: ['function'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 100],
    registers: [this.registry],
  });

  readonly messageSends = new Counter({
    name: 'chat_message_sends_total',
    help: 'Message sends by transport and outcome (stored, duplicate, or the error code)',
    labelNames: ['transport', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly pushNotifications = new Counter({
    name: 'chat_push_notifications_total',
    help: 'Push notifications by outcome: sent (ticket ok), failed, unregistered (token removed), folded (held by the rate rule), dropped; disabled counts the messages stored while PUSH_ENABLED=false',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly pushReceipts = new Counter({
    name: 'chat_push_receipts_total',
    help: 'Push receipts read back from the push service, by outcome (ok, or its error: DeviceNotRegistered, ...)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly socketsConnected = new Gauge({
    name: 'chat_sockets_connected',
    help: 'Socket.IO connections open on this instance',
    registers: [this.registry],
  });

  readonly socketEvents = new Counter({
    name: 'chat_socket_events_total',
    help: 'Socket.IO client events by name and outcome (ok, or the error code)',
    labelNames: ['event', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly socketEventDuration = new Histogram({
    name: 'chat_socket_event_duration_seconds',
    help: 'Socket.IO client events from their arrival to their ack, by name and outcome (ok, or the error code)',
    labelNames: ['event', 'outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly dependencyUp = new Gauge({
    name: 'chat_dependency_up',
    help: 'Whether a dependency answers (1) or not (0), asked at each scrape: database, and redis where configured',
    labelNames: ['dependency'] as const,
    registers: [this.registry],
    collect: () => this.askDependencies(),
  });

  private readonly dependencies = new Map<Dependency, () => Promise<boolean>>();

  readonly aiReplies = new Counter({
    name: 'chat_ai_replies_total',
    help: 'AI replies by outcome (complete, truncated, cancelled, or the error code)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly aiTimeToFirstToken = new Histogram({
    name: 'chat_ai_time_to_first_token_seconds',
    help: 'From the start of a reply to the provider’s first chunk, attempts included',
    buckets: [0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32],
    registers: [this.registry],
  });

  readonly aiReplyDuration = new Histogram({
    name: 'chat_ai_reply_duration_seconds',
    help: 'From the start of a reply to its final store',
    buckets: [0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });

  readonly aiTokens = new Counter({
    name: 'chat_ai_tokens_total',
    help: 'Tokens the provider reported, by kind (prompt, completion)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly moderationChecks = new Counter({
    name: 'chat_moderation_checks_total',
    help: 'Checks of message text with the moderation provider, by outcome: passed, flagged, unavailable (error, timeout or unreadable answer)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * Reports `dependency` in `chat_dependency_up`: `isUp` is asked at each scrape, so the value is never stale (a
   * rejection counts as down).
   */
  watchDependency(dependency: Dependency, isUp: () => Promise<boolean>): void {
    this.dependencies.set(dependency, isUp);
  }

  private async askDependencies(): Promise<void> {
    await Promise.all(
      [...this.dependencies].map(async ([dependency, isUp]) => {
        const up = await isUp().catch(() => false);
        this.dependencyUp.set({ dependency }, up ? 1 : 0);
      }),
    );
  }
}
