import { Inject, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import type { Namespace } from 'socket.io';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { AiReplyService } from '../ai/ai-reply.service';
import { ShutdownState } from '../health/shutdown-state.service';

/** Sockets are closed in this many batches, so their clients reconnect spread over the other instances. */
const SOCKET_BATCHES = 10;

/** The phases of a drain, in ms from SIGTERM, given SHUTDOWN_DRAIN_MS and SHUTDOWN_TIMEOUT_MS. README "Deploy". */
export interface DrainPlan {
  /** Readiness is 503 and everything is served until then: the load balancers take the instance out. */
  refuseAt: number;
  /** Sockets are closed in batches over this long from `refuseAt`. */
  spreadMs: number;
  /** Replies still streaming then are stopped and stored as they stand. */
  repliesEndAt: number;
  /** HTTP connections still open then are closed. */
  connectionsEndAt: number;
  /** The process exits with 1 if it has not ended by then. */
  exitAt: number;
}

export function drainPlan(drainMs: number, timeoutMs: number): DrainPlan {
  const quarter = Math.round(timeoutMs / 4);
  const exitAt = drainMs + timeoutMs;
  return {
    refuseAt: drainMs,
    spreadMs: Math.min(5000, quarter),
    // What follows the replies' end (their final write, closing the sockets' server, Redis and the database)
    // keeps a quarter of the budget, at most 3 s.
    repliesEndAt: exitAt - Math.min(3000, quarter),
    connectionsEndAt: exitAt - Math.min(1000, Math.round(timeoutMs / 10)),
    exitAt,
  };
}

/**
 * A stop without dropping anyone (SIGTERM): readiness turns 503 at once and no new AI reply starts here, while
 * everything else is served for SHUTDOWN_DRAIN_MS (HTTP responses from now on carry `Connection: close`, so
 * keep-alive clients move on); then new connections are refused, sockets are closed in batches (their clients
 * reconnect to another instance and resume with `afterSeq`), and replies in flight get until the budget's end to
 * finish. The app's own close (Redis, the database) follows; main.ts exits 0.
 */
@Injectable()
export class DrainService {
  private namespace?: Namespace;
  private draining = false;
  private refusing = false;

  constructor(
    @InjectPinoLogger(DrainService.name) private readonly logger: PinoLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly shutdown: ShutdownState,
    private readonly ai: AiReplyService,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  get isDraining(): boolean {
    return this.draining;
  }

  /** Called by the gateway once its namespace exists: a socket that connects once sockets are closing is closed. */
  attach(namespace: Namespace): void {
    this.namespace = namespace;
    namespace.on('connection', (socket) => {
      if (this.refusing) {
        socket.conn.close();
      }
    });
  }

  /** Express middleware: while draining, a response ends its connection (keep-alive clients reconnect elsewhere). */
  readonly closeConnections = (_req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    if (this.draining) {
      res.setHeader('Connection', 'close');
    }
    next();
  };

  /** Runs the drain; resolves when sockets are closed and replies have ended (at the latest at their deadline). */
  async drain(): Promise<void> {
    const started = Date.now();
    const plan = drainPlan(this.config.shutdownDrainMs, this.config.shutdownTimeoutMs);
    this.draining = true;
    this.shutdown.begin();
    // Idle keep-alive connections are left open until the drain delay ends: closing one now could race a request
    // its client is sending on it (ECONNRESET). Each one's next response carries `Connection: close` instead.
    const server = this.adapterHost.httpAdapter.getHttpServer() as Server;
    const replies = this.ai.drain(started + plan.repliesEndAt);
    this.logger.info({ ...plan }, 'draining: readiness 503, no new AI replies here');
    if (plan.refuseAt > 0) {
      await delay(plan.refuseAt);
    }

    this.refusing = true;
    server.close();
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), Math.max(0, started + plan.connectionsEndAt - Date.now())).unref();
    const sockets = await this.closeSockets(plan.spreadMs);
    this.logger.info({ sockets }, 'draining: sockets closed');
    await replies;
    this.logger.info({ tookMs: Date.now() - started }, 'drained');
  }

  /** Closes every socket of this instance, in batches spread over `spreadMs`; returns how many. */
  private async closeSockets(spreadMs: number): Promise<number> {
    const sockets = [...(this.namespace?.sockets.values() ?? [])];
    const size = Math.ceil(sockets.length / SOCKET_BATCHES);
    for (let start = 0; start < sockets.length; start += size) {
      if (start > 0) {
        await delay(spreadMs / SOCKET_BATCHES);
      }
      // The transport, not the Socket.IO session: the client sees "transport close" and reconnects by itself
      // (after "io server disconnect" it would not).
      sockets.slice(start, start + size).forEach((socket) => socket.conn.close());
    }
    return sockets.length;
  }
}
