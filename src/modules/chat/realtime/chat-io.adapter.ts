import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { Server, ServerOptions } from 'socket.io';
import type { AppConfig } from '../../../config/app-config';
import { ErrorCode } from '../../../common/errors/error-code';
import { socketRefusal } from '../../auth/socket-refusal';
import { REDIS, type RedisConnections } from '../../cluster/cluster.tokens';
import { CHAT_NAMESPACE } from './socket-rooms';

/** 64 KiB: a message of MESSAGE_MAX_LENGTH characters fits many times over; nothing larger is read. */
export const SOCKET_MAX_PAYLOAD_BYTES = 64 * 1024;
/** The Redis stream of the Socket.IO adapter (every broadcast that is not a room's message feed). */
export const ADAPTER_STREAM = 'chat:socket.io';

/**
 * Socket.IO with the server's limits and allowed origins; with REDIS_URL, the Redis streams adapter, so a
 * broadcast reaches the sockets of every instance, and an instance that loses Redis for a moment resumes from
 * its stream offset instead of losing what was published meanwhile.
 */
export class ChatIoAdapter extends IoAdapter {
  constructor(
    private readonly app: INestApplicationContext,
    private readonly config: AppConfig,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    const redis = this.app.get<RedisConnections | null>(REDIS);
    const server = super.createIOServer(port, {
      ...options,
      // WebSocket only: HTTP long-polling would need every request of a session to reach the same instance (sticky
      // sessions at the load balancer); a polling request is answered 400 "Transport unknown".
      transports: ['websocket'],
      maxHttpBufferSize: SOCKET_MAX_PAYLOAD_BYTES,
      // The heartbeat, tuned for phones (SOCKET_PING_INTERVAL_MS, SOCKET_PING_TIMEOUT_MS; README "Mobile clients"): by
      // default a ping every 25 s keeps the connection inside the idle timeouts of load balancers and carrier NATs (often 60 s),
      // and 30 s to answer it (Socket.IO's default is 20 s) rides out a radio handover or a busy JS thread.
      pingInterval: this.config.socket.pingIntervalMs,
      pingTimeout: this.config.socket.pingTimeoutMs,
      cors: { origin: this.config.corsOrigins === '*' ? true : this.config.corsOrigins, credentials: false },
    }) as Server;
    // Only /chat is served: a connection to any other namespace (the default `/` included) is refused at once.
    server
      .of('/')
      .use((_socket, next) =>
        next(
          socketRefusal(
            ErrorCode.NOT_FOUND,
            `This server serves the ${CHAT_NAMESPACE} namespace: io(url + "${CHAT_NAMESPACE}")`,
          ),
        ),
      );
    if (redis) {
      server.adapter(
        createAdapter(redis.publisher, {
          streamName: ADAPTER_STREAM,
          maxLen: 50_000,
          heartbeatInterval: this.config.cluster.heartbeatMs,
          heartbeatTimeout: this.config.cluster.instanceTtlMs,
        }),
      );
    }
    return server;
  }
}
