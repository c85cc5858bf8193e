/**
 * The baseline: a bare Socket.IO relay with the app's events and payloads, and nothing else (no Nest, no database,
 * no auth check beyond "a token is present"). Prints `{"msg":"listening on port N","port":N}` like the app.
 *
 * `GET /eventloop` answers this process's event-loop delay since the previous call and resets it: the same
 * `monitorEventLoopDelay` histogram, at the same 10 ms resolution, that prom-client's default metrics read (and reset)
 * in the app on each `GET /metrics`.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Server } from 'socket.io';

/** prom-client 15's default `eventLoopMonitoringPrecision`. */
const EVENT_LOOP_RESOLUTION_MS = 10;
const loopDelay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
loopDelay.enable();

const httpServer = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health/live') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  if (req.method === 'GET' && req.url === '/eventloop') {
    const ms = (ns: number) => ns / 1e6;
    const body = {
      resolutionMs: EVENT_LOOP_RESOLUTION_MS,
      count: loopDelay.count,
      minMs: ms(loopDelay.min),
      meanMs: ms(loopDelay.mean),
      p50Ms: ms(loopDelay.percentile(50)),
      p90Ms: ms(loopDelay.percentile(90)),
      p99Ms: ms(loopDelay.percentile(99)),
      maxMs: ms(loopDelay.max),
    };
    loopDelay.reset();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    return;
  }
  res.writeHead(404).end();
});
const io = new Server(httpServer, { serveClient: false });
const seqs = new Map<string, number>();
const chat = io.of('/chat');

chat.use((socket, next) => {
  const token = (socket.handshake.auth as { token?: unknown }).token;
  if (typeof token === 'string' && token.length > 0) {
    next();
  } else {
    next(new Error('UNAUTHENTICATED'));
  }
});

chat.on('connection', (socket) => {
  const senderId = String((socket.handshake.auth as { token?: unknown }).token);
  socket.on('room:join', (body: { roomId?: unknown }, ack?: (r: unknown) => void) => {
    const roomId = String(body?.roomId);
    void socket.join(roomId);
    ack?.({ ok: true, room: { id: roomId }, messages: [], hasMore: false });
  });
  socket.on('message:send', (body: { roomId?: unknown; content?: unknown; clientId?: unknown }, ack) => {
    const roomId = String(body?.roomId);
    const seq = (seqs.get(roomId) ?? 0) + 1;
    seqs.set(roomId, seq);
    const now = new Date().toISOString();
    const message = {
      id: randomUUID(),
      roomId,
      seq,
      role: 'user',
      senderId,
      content: String(body?.content),
      status: 'complete',
      clientId: String(body?.clientId),
      replyToId: null,
      createdAt: now,
      updatedAt: now,
    };
    if (typeof ack === 'function') {
      (ack as (r: unknown) => void)({ ok: true, message, duplicate: false });
    }
    chat.to(roomId).emit('message:new', { message });
  });
});

httpServer.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = httpServer.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: `listening on port ${port}`, port })}\n`);
});

process.on('SIGTERM', () => {
  void io.close();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
