/**
 * The load generator: a child process driven by one JSON argument, reporting one JSON line on stdout.
 *
 * Modes:
 * - chat:    R rooms x M members connect (websocket transport), join, then send at a fixed offered rate (open loop)
 *            for D seconds; measures send->ack and send->message:new at the other members, lost/duplicated by seq.
 *            With `cue`, it prints {"ready":true} once every member has joined and starts sending when a line
 *            comes on stdin, so that the bench can start two loads at once and read CPU around the sending only.
 * - idle:    connects N authenticated sockets (spread over `urls` when given), prints {"connected":N}, and holds
 *            them until SIGTERM.
 * - ai:      one socket per room sends a message at once in every room; measures provider token emitted -> delta
 *            received (the fake stamps each token with its emit time) and deltas per reply.
 * - history: sequential room:join {afterSeq} and GET messages?beforeSeq= samples, the rooms taking turns, after a
 *            few uncounted ones.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { io, type Socket } from 'socket.io-client';
import { commands, reply } from './line-protocol';
import { nowMs, round, summarize } from './stats';

interface RoomSpec {
  id: string;
  /** One token per member; member 0 is the room's owner. */
  tokens: string[];
  /** The server each member connects to (several instances); the config's `url` when left out. */
  urls?: string[];
}

type Config =
  | { mode: 'chat'; url: string; rooms: RoomSpec[]; rate: number; durationS: number; drainMs?: number; cue?: boolean }
  | { mode: 'idle'; url: string; tokens: string[]; n: number; urls?: string[] }
  | { mode: 'ai'; url: string; rooms: RoomSpec[]; timeoutMs: number }
  | {
      mode: 'history';
      url: string;
      token: string;
      rooms: { roomId: string; lastSeq: number }[];
      samples: number;
      /** Samples taken first and not counted (a restarted app's caches are cold). */
      warmup?: number;
    };

const CONNECT_TIMEOUT_MS = 15_000;
const ACK_TIMEOUT_MS = 10_000;
const CONNECT_CONCURRENCY = 50;

function connect(url: string, token: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(`${url}/chat`, {
      auth: { token },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: CONNECT_TIMEOUT_MS,
    });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

/** Socket i connects to urls[i] with tokens[i], CONNECT_CONCURRENCY at a time. */
async function connectAll(urls: string[], tokens: string[]): Promise<Socket[]> {
  const sockets: Socket[] = new Array<Socket>(tokens.length);
  for (let i = 0; i < tokens.length; i += CONNECT_CONCURRENCY) {
    const batch = tokens.slice(i, i + CONNECT_CONCURRENCY);
    const connected = await Promise.all(batch.map((t, j) => connect(urls[i + j], t)));
    connected.forEach((s, j) => (sockets[i + j] = s));
  }
  return sockets;
}

async function join(socket: Socket, body: Record<string, unknown>): Promise<any> {
  const ack = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck('room:join', body);
  if (!ack?.ok) {
    throw new Error(`room:join failed: ${JSON.stringify(ack)}`);
  }
  return ack;
}

async function chat(cfg: Extract<Config, { mode: 'chat' }>): Promise<unknown> {
  const members: { socket: Socket; room: number; index: number }[] = [];
  for (const [r, room] of cfg.rooms.entries()) {
    const sockets = await connectAll(
      room.tokens.map((_, i) => room.urls?.[i] ?? cfg.url),
      room.tokens,
    );
    sockets.forEach((socket, index) => members.push({ socket, room: r, index }));
  }
  await Promise.all(members.map((m) => join(m.socket, { roomId: cfg.rooms[m.room].id })));

  const sentAt = new Map<string, { t: number; member: number }>();
  const ackLatency: number[] = [];
  /** [seconds since the first send, ms] of each ack, for the slowest ones (do stalls cluster in time?). */
  const ackAt: [number, number][] = [];
  const deliveryLatency: number[] = [];
  const ackedSeqs: Set<number>[] = cfg.rooms.map(() => new Set<number>());
  const received: Map<number, number>[] = members.map(() => new Map<number, number>());
  let duplicates = 0;
  let deliveries = 0;
  let ackErrors = 0;
  let ackTimeouts = 0;
  const errorCodes: Record<string, number> = {};

  members.forEach((m, mi) => {
    m.socket.on('message:new', ({ message }: { message: { seq: number; clientId: string; roomId: string } }) => {
      const t = nowMs();
      const seen = received[mi].get(message.seq) ?? 0;
      received[mi].set(message.seq, seen + 1);
      if (seen > 0) {
        duplicates++;
        return;
      }
      const sent = sentAt.get(message.clientId);
      if (sent && sent.member !== mi) {
        deliveries++;
        deliveryLatency.push(t - sent.t);
      }
    });
  });

  if (cfg.cue) {
    reply({ ready: true });
    await commands().next();
  }
  const cpuBefore = process.cpuUsage();
  // Open loop: every tick, send as many as the offered rate says are due by now, round-robin over all members.
  const total = Math.round(cfg.rate * cfg.durationS);
  // clientIds unique per run: the app answers a repeated clientId as a duplicate and broadcasts nothing.
  const tag = Math.random().toString(36).slice(2, 10);
  let duplicateAcks = 0;
  const start = nowMs();
  // The same moment on the monotonic clock, in µs: V8's CPU profiles use that clock (bench/profile.ts).
  const startUs = Number(process.hrtime.bigint() / 1000n);
  let sent = 0;
  let pending = 0;
  let lastSendAt = start;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((nowMs() - start) / 1000) * cfg.rate) + 1);
    for (; sent < due; sent++) {
      const mi = sent % members.length;
      const m = members[mi];
      const clientId = `b${tag}-${sent}`;
      const t = nowMs();
      sentAt.set(clientId, { t, member: mi });
      pending++;
      lastSendAt = t;
      m.socket
        .timeout(ACK_TIMEOUT_MS)
        .emit(
          'message:send',
          { roomId: cfg.rooms[m.room].id, content: `load ${clientId}`, clientId },
          (err: unknown, ack: any) => {
            pending--;
            if (err) {
              ackTimeouts++;
            } else if (!ack?.ok) {
              ackErrors++;
              const code = String(ack?.error?.code ?? 'UNKNOWN');
              errorCodes[code] = (errorCodes[code] ?? 0) + 1;
            } else {
              if (ack.duplicate) {
                duplicateAcks++;
              }
              ackLatency.push(nowMs() - t);
              ackAt.push([(t - start) / 1000, nowMs() - t]);
              ackedSeqs[m.room].add(Number(ack.message.seq));
            }
          },
        );
    }
    await sleep(2);
  }
  const sendSeconds = (lastSendAt - start) / 1000;
  // Drain: wait (bounded) for acks, then for deliveries of every acked seq at every member.
  const drainUntil = nowMs() + (cfg.drainMs ?? 10_000);
  const complete = (): boolean =>
    members.every((m, mi) => [...ackedSeqs[m.room]].every((seq) => received[mi].has(seq)));
  while (nowMs() < drainUntil && (pending > 0 || !complete())) {
    await sleep(20);
  }
  const end = nowMs();
  const cpu = process.cpuUsage(cpuBefore);
  let lost = 0;
  let gaps = 0;
  members.forEach((m, mi) => {
    for (const seq of ackedSeqs[m.room]) {
      if (!received[mi].has(seq)) {
        lost++;
      }
    }
    const seqs = [...received[mi].keys()].sort((a, b) => a - b);
    for (let i = 1; i < seqs.length; i++) {
      if (seqs[i] !== seqs[i - 1] + 1) {
        gaps++;
      }
    }
  });
  members.forEach((m) => m.socket.close());
  const acked = ackLatency.length;
  return {
    mode: 'chat',
    rooms: cfg.rooms.length,
    members: members.length,
    offeredRate: cfg.rate,
    sent,
    acked,
    ackErrors,
    ackTimeouts,
    duplicateAcks,
    errorCodes,
    pendingAtEnd: pending,
    sendSeconds: round(sendSeconds),
    achievedSendRate: round(sent / Math.max(sendSeconds, 0.001), 1),
    ackedPerSecond: round(acked / Math.max(sendSeconds, 0.001), 1),
    deliveredPerSecond: round(deliveries / Math.max((end - start) / 1000, 0.001), 1),
    ackMs: summarize(ackLatency),
    /** Acks that took over the search's 50 ms limit (the app's histograms count the same way: over their 0.05 bound). */
    acksOver50ms: ackLatency.filter((ms) => ms > 50).length,
    slowestAcks: ackAt
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([at, ms]) => [round(at, 4), round(ms, 1)]),
    /** The first send on the monotonic clock (µs): `slowestAcks`' seconds count from it. */
    startUs,
    deliveryMs: summarize(deliveryLatency),
    deliveries,
    /** This load process's own CPU from the first send to the end of the drain, in ms: if it nears the window's
     * length, the load generator (not the target) bounds the figures. */
    loadCpuMs: round((cpu.user + cpu.system) / 1000, 1),
    windowMs: round(end - start, 1),
    lost,
    duplicates,
    seqGaps: gaps,
  };
}

async function idle(cfg: Extract<Config, { mode: 'idle' }>): Promise<void> {
  const tokens = Array.from({ length: cfg.n }, (_, i) => cfg.tokens[i % cfg.tokens.length]);
  const urls = cfg.urls ?? [cfg.url];
  const sockets = await connectAll(
    tokens.map((_, i) => urls[i % urls.length]),
    tokens,
  );
  process.stdout.write(`${JSON.stringify({ mode: 'idle', connected: sockets.length })}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    setTimeout(resolve, 120_000).unref();
  });
  sockets.forEach((s) => s.close());
}

async function ai(cfg: Extract<Config, { mode: 'ai' }>): Promise<unknown> {
  const sockets = await Promise.all(cfg.rooms.map((r) => connect(cfg.url, r.tokens[0])));
  await Promise.all(sockets.map((s, i) => join(s, { roomId: cfg.rooms[i].id })));
  const tokenLatency: number[] = [];
  /** Latency by the token's place in its reply (0 = first), to tell start-up stalls from steady relay. */
  const byIndex: number[][] = [];
  const deltasPerReply = new Map<string, number>();
  const finals = new Map<string, string>();
  sockets.forEach((s) => {
    s.on('message:delta', ({ messageId, delta }: { messageId: string; delta: string }) => {
      const t = nowMs();
      deltasPerReply.set(messageId, (deltasPerReply.get(messageId) ?? 0) + 1);
      for (const match of delta.matchAll(/<t:(\d+\.\d+)>(\d+)/g)) {
        const latency = t - Number(match[1]);
        tokenLatency.push(latency);
        (byIndex[Number(match[2])] ??= []).push(latency);
      }
    });
    s.on('message:updated', ({ message }: { message: { id: string; role: string; status: string } }) => {
      if (message.role === 'assistant' && message.status !== 'streaming') {
        finals.set(message.id, message.status);
      }
    });
  });
  await Promise.all(
    sockets.map((s, i) =>
      s.timeout(ACK_TIMEOUT_MS).emitWithAck('message:send', {
        roomId: cfg.rooms[i].id,
        content: 'hello @ai',
        clientId: `ai${i}`,
      }),
    ),
  );
  const until = nowMs() + cfg.timeoutMs;
  while (nowMs() < until && finals.size < cfg.rooms.length) {
    await sleep(20);
  }
  sockets.forEach((s) => s.close());
  const counts = [...deltasPerReply.values()];
  return {
    mode: 'ai',
    rooms: cfg.rooms.length,
    repliesFinished: finals.size,
    statuses: [...finals.values()],
    tokenToDeltaMs: summarize(tokenLatency),
    tokenToDeltaMsAfterFirst: summarize(byIndex.slice(1).flat()),
    maxMsByTokenIndex: byIndex.map((l) => round(Math.max(...l), 2)),
    deltasPerReply: {
      min: Math.min(...counts),
      max: Math.max(...counts),
      mean: round(counts.reduce((a, b) => a + b, 0) / Math.max(counts.length, 1), 1),
    },
  };
}

async function history(cfg: Extract<Config, { mode: 'history' }>): Promise<unknown> {
  const socket = await connect(cfg.url, cfg.token);
  const joinMs: number[][] = cfg.rooms.map(() => []);
  const restMs: number[][] = cfg.rooms.map(() => []);
  const warmup = cfg.warmup ?? 0;
  // Rooms take turns, sample by sample, so neither is favoured by warming caches or JIT.
  for (let i = 0; i < warmup + cfg.samples; i++) {
    for (const [r, { roomId, lastSeq }] of cfg.rooms.entries()) {
      const afterSeq = Math.max(0, lastSeq - 50 - (i % 10));
      let t = nowMs();
      const ack = await join(socket, { roomId, afterSeq, limit: 50 });
      if (i >= warmup) {
        joinMs[r].push(nowMs() - t);
      }
      if (!Array.isArray(ack.messages) || ack.messages.length === 0) {
        throw new Error('room:join returned no messages');
      }
      const beforeSeq = Math.max(2, lastSeq - 100 - (i % 10));
      t = nowMs();
      const res = await fetch(`${cfg.url}/api/rooms/${roomId}/messages?beforeSeq=${beforeSeq}&limit=50`, {
        headers: { authorization: `Bearer ${cfg.token}` },
      });
      await res.json();
      if (i >= warmup) {
        restMs[r].push(nowMs() - t);
      }
      if (res.status !== 200) {
        throw new Error(`GET messages answered ${res.status}`);
      }
    }
  }
  socket.close();
  return {
    mode: 'history',
    rooms: cfg.rooms.map(({ lastSeq }, r) => ({
      lastSeq,
      joinAfterSeqMs: summarize(joinMs[r]),
      getBeforeSeqMs: summarize(restMs[r]),
    })),
  };
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as Config;
  const hardStop = setTimeout(() => {
    process.stderr.write('load: hard time limit reached\n');
    process.exit(2);
  }, 300_000);
  hardStop.unref();
  let result: unknown;
  switch (cfg.mode) {
    case 'chat':
      result = await chat(cfg);
      break;
    case 'idle':
      await idle(cfg);
      return;
    case 'ai':
      result = await ai(cfg);
      break;
    case 'history':
      result = await history(cfg);
      break;
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`load failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
