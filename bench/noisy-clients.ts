/**
 * The two clients of the noisy-neighbour phase (bench/noisy-phase.ts), each a child process driven by JSON lines on
 * stdin and answering JSON lines on stdout. `node noisy-clients.js <role> <config JSON>`.
 *
 * - measure: the well-behaved client (socket.io-client, like an app). Joins its room, then sends `message:send` at a
 *            fixed offered rate and `GET /api/rooms/:id/messages` at another (open loop: a slow answer does not delay
 *            the next request), recording when each was sent and how long it took, until `{"cmd":"stop"}`.
 * - flood:   the abusive client. Speaks the Engine.IO 4 / Socket.IO 5 wire protocol itself over `ws`, as an
 *            abuser would: the frames are built once, sent as fast as the connection takes them (the socket's
 *            write buffer kept under HIGH_WATER_BYTES), without waiting for acks, and the acks are counted as they
 *            come. `{"cmd":"flood",...}` floods one kind for a bounded time, count and volume, then waits (bounded)
 *            for the answers still owed; a disconnected socket is reconnected after RECONNECT_DELAY_MS.
 */
import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToIo, setTimeout as sleep } from 'node:timers/promises';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { commands, reply } from './line-protocol';
import { nowMs, round } from './stats';

/** `none` floods nothing: its "on" slices measure how far the figures move by themselves (an A/A control). */
export const FLOOD_KINDS = ['none', 'join', 'leave', 'aistop', 'typing', 'send', 'binary', 'deep'] as const;
export type FloodKind = (typeof FLOOD_KINDS)[number];

/** What each flood kind sends, for the table and the README. */
export const FLOOD_LABELS: Record<FloodKind, string> = {
  none: 'none (A/A control)',
  join: 'room:join (own room)',
  leave: 'room:leave',
  aistop: 'ai:stop (unknown message)',
  typing: 'typing:update over limit',
  send: 'message:send over limit',
  binary: 'room:leave + 10 x 60 KiB binary',
  deep: 'message:send, JSON depth 30k',
};

export interface MeasureConfig {
  url: string;
  token: string;
  roomId: string;
  sendsPerSecond: number;
  getsPerSecond: number;
}

export interface FloodConfig {
  url: string;
  token: string;
  roomId: string;
  /** The abuser's source address: another loopback address than the measuring client's, so that per-IP limits
   * (handshakes) count it apart, as they would for two clients on the internet. */
  localAddress?: string;
}

export interface FloodCommand {
  cmd: 'flood';
  kind: FloodKind;
  ms: number;
  maxEvents: number;
  maxBytes: number;
  /** Most events left unanswered at once (the backlog the server holds for this client). */
  maxUnanswered: number;
  drainMs: number;
}

/** One flood's account: `startedAt`..`endedAt` is the flood itself, the drain comes after. */
export interface FloodStats {
  kind: FloodKind;
  startedAt: number;
  endedAt: number;
  seconds: number;
  emitted: number;
  megabytes: number;
  answered: number;
  /** Answers by outcome: `ok` or the error code. */
  outcomes: Record<string, number>;
  /** Unanswered when the socket was disconnected, or still unanswered after the drain. */
  lostOnDisconnect: number;
  unansweredAfterDrain: number;
  drainMs: number;
  disconnects: number;
  reconnects: number;
  connectErrors: Record<string, number>;
  /** Why the flood stopped: its time was up, or it reached its count or volume. */
  stoppedBy: 'time' | 'count' | 'bytes';
  /** Time spent waiting because the write buffer was full or too many events were unanswered. */
  backpressureMs: number;
  /** This process's CPU time during the flood, in % of one core (it shares the machine with the app). */
  cpuPercent: number;
}

const ACK_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 10_000;
const NAMESPACE = '/chat';
/** Bytes the abuser lets wait in its socket's write buffer before it pauses. */
const HIGH_WATER_BYTES = 4 * 2 ** 20;
/** Events built and sent between two turns of the event loop (to read acks and pings). */
const BATCH = 64;
const RECONNECT_DELAY_MS = 250;
const ATTACHMENTS = 10;
const ATTACHMENT_BYTES = 60 * 1024;
/** Nesting of the deep payload: `[` x DEPTH then `]` x DEPTH, 60,000 bytes, under the server's 64 KiB frame. */
const DEEP_DEPTH = 30_000;

// ---------------------------------------------------------------------------------------------------------------
// measure

async function measure(cfg: MeasureConfig): Promise<void> {
  const socket: Socket = io(`${cfg.url}${NAMESPACE}`, {
    auth: { token: cfg.token },
    transports: ['websocket'],
    forceNew: true,
    timeout: CONNECT_TIMEOUT_MS,
  });
  /** [when, why] of each disconnect and refused reconnect. */
  const disconnects: [number, string][] = [];
  const joinRoom = async (): Promise<void> => {
    const ack = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck('room:join', { roomId: cfg.roomId, limit: 1 });
    if (!ack?.ok) {
      throw new Error(`room:join failed: ${JSON.stringify(ack)}`);
    }
  };
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  await joinRoom();
  // After a disconnect the client reconnects by itself (socket.io-client's default back-off) and joins again;
  // what it sent meanwhile is buffered and sent then, so the wait counts in its latency.
  socket.on('disconnect', (reason) => disconnects.push([round(nowMs(), 1), reason]));
  socket.on('connect_error', (err) => disconnects.push([round(nowMs(), 1), `connect_error ${err.message}`]));
  socket.io.on('reconnect', () => void joinRoom().catch(() => undefined));

  /** [sent at, latency ms or -1 for an error answer] */
  const sends: [number, number][] = [];
  const gets: [number, number][] = [];
  const errors: Record<string, number> = {};
  const fail = (what: string, code: string) => {
    errors[`${what} ${code}`] = (errors[`${what} ${code}`] ?? 0) + 1;
  };
  const tag = randomUUID().slice(0, 8);
  let sent = 0;
  let inFlight = 0;
  const send = () => {
    const t = nowMs();
    const i = sends.push([t, -1]) - 1;
    inFlight++;
    const clientId = `m${tag}-${sent++}`;
    socket
      .timeout(ACK_TIMEOUT_MS)
      .emit(
        'message:send',
        { roomId: cfg.roomId, content: `hello ${clientId}`, clientId },
        (err: unknown, ack: any) => {
          inFlight--;
          if (err) {
            // A timeout counts as the time waited, so it weighs on the percentiles.
            sends[i][1] = ACK_TIMEOUT_MS;
            fail('send', 'TIMEOUT');
          } else if (!ack?.ok) {
            fail('send', String(ack?.error?.code ?? 'UNKNOWN'));
          } else {
            sends[i][1] = nowMs() - t;
          }
        },
      );
  };
  const get = () => {
    const t = nowMs();
    const i = gets.push([t, -1]) - 1;
    inFlight++;
    fetch(`${cfg.url}/api/rooms/${cfg.roomId}/messages?limit=50`, {
      headers: { authorization: `Bearer ${cfg.token}` },
      signal: AbortSignal.timeout(ACK_TIMEOUT_MS),
    }).then(
      async (res) => {
        await res.arrayBuffer().catch(() => undefined);
        inFlight--;
        if (res.status === 200) {
          gets[i][1] = nowMs() - t;
        } else {
          fail('get', String(res.status));
        }
      },
      (err: unknown) => {
        inFlight--;
        gets[i][1] = ACK_TIMEOUT_MS;
        fail('get', err instanceof Error && err.name === 'TimeoutError' ? 'TIMEOUT' : 'NETWORK');
      },
    );
  };

  // Open loop: each tick issues whatever the offered rates say is due by now.
  let stopped = false;
  const start = nowMs();
  const loop = (async () => {
    let sendsDone = 0;
    let getsDone = 0;
    while (!stopped) {
      const elapsed = (nowMs() - start) / 1000;
      for (; sendsDone < Math.floor(elapsed * cfg.sendsPerSecond) + 1; sendsDone++) {
        send();
      }
      for (; getsDone < Math.floor(elapsed * cfg.getsPerSecond) + 1; getsDone++) {
        get();
      }
      await sleep(5);
    }
  })();
  reply({ ready: true });
  const input = commands();
  for (let line = await input.next(); !line.done; line = await input.next()) {
    if ((JSON.parse(line.value) as { cmd: string }).cmd === 'stop') {
      break;
    }
  }
  stopped = true;
  await loop;
  // What is still in flight is answered or times out within ACK_TIMEOUT_MS.
  const until = nowMs() + ACK_TIMEOUT_MS + 500;
  while (inFlight > 0 && nowMs() < until) {
    await sleep(20);
  }
  socket.close();
  const r = (pairs: [number, number][]) => pairs.map(([t, ms]) => [round(t, 1), round(ms, 2)]);
  reply({ sends: r(sends), gets: r(gets), errors, disconnects });
}

// ---------------------------------------------------------------------------------------------------------------
// flood

/** A Socket.IO client on the bare wire: connect to the namespace, send prebuilt frames, count the acks. */
class RawSocket {
  private ws: WebSocket | null = null;
  private connected = false;
  private nextId = 1;
  /** Ack ids owed by the server. */
  readonly unanswered = new Set<number>();
  answered = 0;
  readonly outcomes: Record<string, number> = {};
  lostOnDisconnect = 0;
  disconnects = 0;

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly localAddress: string | undefined,
  ) {}

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN && this.connected;
  }

  get bufferedAmount(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  connect(): Promise<void> {
    const ws = new WebSocket(`${this.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`, {
      perMessageDeflate: false,
      localAddress: this.localAddress,
    });
    this.ws = ws;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          if (err) {
            reject(err);
          } else {
            resolve();
          }
        }
      };
      const timer = setTimeout(() => {
        ws.terminate();
        settle(new Error('TIMEOUT'));
      }, CONNECT_TIMEOUT_MS);
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) {
          return;
        }
        const text = data.toString();
        if (text.startsWith('43/chat,')) {
          this.onAck(text);
        } else if (text === '2') {
          ws.send('3');
        } else if (text.startsWith('0')) {
          ws.send(`40${NAMESPACE},${JSON.stringify({ token: this.token })}`);
        } else if (text.startsWith(`40${NAMESPACE},`)) {
          this.connected = true;
          settle();
        } else if (text.startsWith(`44${NAMESPACE},`)) {
          const code = /"code":"([A-Z_]+)"/.exec(text)?.[1] ?? /"message":"([^"]*)"/.exec(text)?.[1] ?? 'REFUSED';
          ws.close();
          settle(new Error(code));
        } else if (text.startsWith(`41${NAMESPACE}`)) {
          // Disconnected by the server: what it still owes will not come.
          this.disconnected();
          ws.close();
        }
      });
      ws.on('unexpected-response', (_req, res) => {
        ws.terminate();
        settle(new Error(`HTTP_${String(res.statusCode)}`));
      });
      ws.on('error', (err) => settle(new Error(err.message.slice(0, 40))));
      ws.on('close', () => {
        this.disconnected();
        settle(new Error('CLOSED'));
      });
    });
  }

  /** `42/chat,<id>[...]`: an event asking for an ack; `json` is the array without its brackets. */
  emit(json: string): number {
    const id = this.nextId++;
    this.unanswered.add(id);
    this.ws!.send(`42${NAMESPACE},${id}[${json}]`);
    return json.length + 12;
  }

  /** `45<n>-/chat,<id>[...]` then the n attachments, each its own binary frame. */
  emitBinary(json: string, attachments: Buffer[]): number {
    const id = this.nextId++;
    this.unanswered.add(id);
    this.ws!.send(`45${attachments.length}-${NAMESPACE},${id}[${json}]`);
    let bytes = json.length + 14;
    for (const a of attachments) {
      this.ws!.send(a, { binary: true });
      bytes += a.length;
    }
    return bytes;
  }

  close(): void {
    this.ws?.close();
  }

  private disconnected(): void {
    if (this.connected) {
      this.disconnects++;
    }
    this.connected = false;
    this.lostOnDisconnect += this.unanswered.size;
    this.unanswered.clear();
  }

  private onAck(text: string): void {
    const comma = NAMESPACE.length + 3;
    const bracket = text.indexOf('[', comma);
    const id = Number(text.slice(comma, bracket));
    if (!this.unanswered.delete(id)) {
      return;
    }
    this.answered++;
    const outcome = text.includes('"ok":true') ? 'ok' : (/"code":"([A-Z_]+)"/.exec(text)?.[1] ?? 'UNKNOWN');
    this.outcomes[outcome] = (this.outcomes[outcome] ?? 0) + 1;
  }
}

/** The event of one flood kind: its JSON (without the outer brackets) for the n-th send, and attachments. */
function floodEvent(
  kind: Exclude<FloodKind, 'none'>,
  roomId: string,
  tag: string,
): (n: number) => { json: string; binary?: Buffer[] } {
  const room = JSON.stringify(roomId);
  switch (kind) {
    case 'join': {
      const json = `"room:join",{"roomId":${room}}`;
      return () => ({ json });
    }
    case 'leave': {
      const json = `"room:leave",{"roomId":${room}}`;
      return () => ({ json });
    }
    case 'aistop': {
      const json = `"ai:stop",{"roomId":${room},"messageId":${JSON.stringify(randomUUID())}}`;
      return () => ({ json });
    }
    case 'typing':
      return (n) => ({ json: `"typing:update",{"roomId":${room},"isTyping":${n % 2 === 0}}` });
    case 'send':
      return (n) => ({ json: `"message:send",{"roomId":${room},"content":"flood ${n}","clientId":"f${tag}-${n}"}` });
    case 'binary': {
      const attachments = Array.from({ length: ATTACHMENTS }, () => Buffer.alloc(ATTACHMENT_BYTES, 7));
      const placeholders = attachments.map((_, num) => ({ _placeholder: true, num }));
      const json = `"room:leave",${JSON.stringify({ roomId, files: placeholders })}`;
      return () => ({ json, binary: attachments });
    }
    case 'deep': {
      const deep = `${'['.repeat(DEEP_DEPTH)}${']'.repeat(DEEP_DEPTH)}`;
      return (n) => ({
        json: `"message:send",{"roomId":${room},"content":"deep ${n}","clientId":"d${tag}-${n}","meta":${deep}}`,
      });
    }
  }
}

async function flood(cfg: FloodConfig): Promise<void> {
  const socket = new RawSocket(cfg.url, cfg.token, cfg.localAddress);
  let reconnects = 0;
  let connectErrors: Record<string, number> = {};
  const joinRoom = async (): Promise<void> => {
    // Its own room, so that leave and typing act on a subscribed socket, as after a normal join.
    socket.emit(`"room:join",{"roomId":${JSON.stringify(cfg.roomId)}}`);
    const until = nowMs() + ACK_TIMEOUT_MS;
    while (socket.unanswered.size > 0 && nowMs() < until) {
      await sleep(5);
    }
  };
  /** Connects (again); false when the handshake was refused or failed. */
  const ensureConnected = async (): Promise<boolean> => {
    if (socket.open) {
      return true;
    }
    try {
      await socket.connect();
      await joinRoom();
      return true;
    } catch (err) {
      const code = err instanceof Error ? err.message : String(err);
      connectErrors[code] = (connectErrors[code] ?? 0) + 1;
      return false;
    }
  };
  if (!(await ensureConnected())) {
    throw new Error(`the flood client could not connect: ${JSON.stringify(connectErrors)}`);
  }
  reply({ ready: true });
  const tag = randomUUID().slice(0, 8);
  const input = commands();
  for (let line = await input.next(); !line.done; line = await input.next()) {
    const cmd = JSON.parse(line.value) as FloodCommand | { cmd: 'quit' };
    if (cmd.cmd === 'quit') {
      break;
    }
    const next = cmd.kind === 'none' ? undefined : floodEvent(cmd.kind, cfg.roomId, tag);
    connectErrors = {};
    reconnects = 0;
    // Each flood starts subscribed to its room (a leave flood before may have left it).
    if (socket.open) {
      await joinRoom();
    } else {
      await ensureConnected();
    }
    socket.unanswered.clear();
    const before = { answered: socket.answered, lost: socket.lostOnDisconnect, disconnects: socket.disconnects };
    const outcomesBefore = { ...socket.outcomes };
    const startedAt = nowMs();
    const cpuBefore = process.cpuUsage();
    const endAt = startedAt + cmd.ms;
    let emitted = 0;
    let bytes = 0;
    let backpressureMs = 0;
    let stoppedBy: FloodStats['stoppedBy'] = 'time';
    let n = 0;
    while (!next && nowMs() < endAt) {
      await sleep(Math.min(50, endAt - nowMs()));
    }
    while (next && nowMs() < endAt) {
      if (emitted >= cmd.maxEvents) {
        stoppedBy = 'count';
        break;
      }
      if (bytes >= cmd.maxBytes) {
        stoppedBy = 'bytes';
        break;
      }
      if (!socket.open) {
        await sleep(RECONNECT_DELAY_MS);
        if (nowMs() < endAt && (await ensureConnected())) {
          reconnects++;
        }
        continue;
      }
      if (socket.bufferedAmount > HIGH_WATER_BYTES || socket.unanswered.size >= cmd.maxUnanswered) {
        const t = nowMs();
        await sleep(1);
        backpressureMs += nowMs() - t;
        continue;
      }
      for (let i = 0; i < BATCH && emitted < cmd.maxEvents && socket.open; i++) {
        if (socket.unanswered.size >= cmd.maxUnanswered || socket.bufferedAmount > HIGH_WATER_BYTES) {
          break;
        }
        const e = next(n++);
        bytes += e.binary ? socket.emitBinary(e.json, e.binary) : socket.emit(e.json);
        emitted++;
      }
      await yieldToIo();
    }
    const endedAt = nowMs();
    const cpu = process.cpuUsage(cpuBefore);
    // The answers still owed, as long as the socket stays and at most drainMs.
    const drainUntil = endedAt + cmd.drainMs;
    while (socket.unanswered.size > 0 && socket.open && nowMs() < drainUntil) {
      await sleep(5);
    }
    const outcomes: Record<string, number> = {};
    for (const [k, v] of Object.entries(socket.outcomes)) {
      if (v - (outcomesBefore[k] ?? 0) > 0) {
        outcomes[k] = v - (outcomesBefore[k] ?? 0);
      }
    }
    const stats: FloodStats = {
      kind: cmd.kind,
      startedAt: round(startedAt, 1),
      endedAt: round(endedAt, 1),
      seconds: round((endedAt - startedAt) / 1000),
      emitted,
      megabytes: round(bytes / 1e6, 1),
      answered: socket.answered - before.answered,
      outcomes,
      lostOnDisconnect: socket.lostOnDisconnect - before.lost,
      unansweredAfterDrain: socket.unanswered.size,
      drainMs: round(nowMs() - endedAt, 0),
      disconnects: socket.disconnects - before.disconnects,
      reconnects,
      connectErrors,
      stoppedBy,
      backpressureMs: round(backpressureMs, 0),
      cpuPercent: round((cpu.user + cpu.system) / 10 / Math.max(1, endedAt - startedAt), 0),
    };
    // Answers that never came are forgotten, so the next flood starts with none owed.
    socket.unanswered.clear();
    reply(stats);
  }
  socket.close();
}

async function main(): Promise<void> {
  const [role, json] = process.argv.slice(2);
  // Bounded whatever the parent does: the whole phase is meant to take a few minutes.
  setTimeout(() => {
    process.stderr.write('noisy-clients: hard time limit reached\n');
    process.exit(2);
  }, 15 * 60_000).unref();
  switch (role) {
    case 'measure':
      await measure(JSON.parse(json) as MeasureConfig);
      break;
    case 'flood':
      await flood(JSON.parse(json) as FloodConfig);
      break;
    default:
      throw new Error(`unknown role ${role}`);
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`noisy-clients failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
