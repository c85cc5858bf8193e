import { createConnection, createServer, type Socket } from 'node:net';

/** A TCP proxy in front of one server, to cut a client's network from outside it (the client sees a dead link). */
export interface TcpProxy {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** Destroys every open connection, as a lost network would. */
  cut(): void;
  /** While blocked, new connections are destroyed at once (the network stays down); `unblock` lets them through. */
  block(): void;
  unblock(): void;
  close(): Promise<void>;
}

/** Pipes `client` to a new connection to host:port both ways, both kept in `open` until either ends. */
export function relay(client: Socket, host: string, port: number, open: Set<Socket>): void {
  const upstream = createConnection({ host, port });
  open.add(client).add(upstream);
  const end = () => {
    client.destroy();
    upstream.destroy();
    open.delete(client);
    open.delete(upstream);
  };
  client.on('error', end).on('close', end);
  upstream.on('error', end).on('close', end);
  client.pipe(upstream).pipe(client);
}

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const open = new Set<Socket>();
  let blocked = false;
  const server = createServer((client) => {
    if (blocked) {
      client.destroy();
      return;
    }
    relay(client, hostname, Number(port), open);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const cut = () => [...open].forEach((socket) => socket.destroy());
  return {
    url,
    cut,
    block: () => {
      blocked = true;
      cut();
    },
    unblock: () => {
      blocked = false;
    },
    close: () => {
      cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
