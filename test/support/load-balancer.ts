/**
 * A TCP load balancer in front of app instances, the way a Kubernetes Service and its readiness probe behave: it
 * polls each backend's `/health/ready` and sends each new connection (round robin) only to backends that last
 * answered 200. Connections already open are left alone, as kube-proxy leaves them.
 */
import { createServer, type Socket } from 'node:net';
import { relay } from './tcp-proxy';

export interface LoadBalancer {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** When (Date.now()) each backend was first seen not ready; absent while it has always been ready. */
  readonly outSince: Map<string, number>;
  /** Resolves once every backend has been checked at least once. */
  readonly checked: Promise<void>;
  close(): Promise<void>;
}

export async function startLoadBalancer(backends: string[], checkEveryMs = 50): Promise<LoadBalancer> {
  const ready = new Set<string>();
  const outSince = new Map<string, number>();
  const open = new Set<Socket>();
  let next = 0;
  let closed = false;

  const check = async (backend: string): Promise<void> => {
    let ok = false;
    try {
      const response = await fetch(`${backend}/health/ready`, { signal: AbortSignal.timeout(1000) });
      ok = response.status === 200;
      await response.body?.cancel();
    } catch {
      ok = false;
    }
    if (ok) {
      ready.add(backend);
    } else {
      ready.delete(backend);
      if (!outSince.has(backend)) {
        outSince.set(backend, Date.now());
      }
    }
  };
  const checkAll = () => Promise.all(backends.map(check));
  const checked = checkAll().then(() => undefined);
  let checking = false;
  const timer = setInterval(() => {
    if (!checking && !closed) {
      checking = true;
      void checkAll().finally(() => (checking = false));
    }
  }, checkEveryMs);

  const server = createServer((client) => {
    const candidates = backends.filter((backend) => ready.has(backend));
    if (candidates.length === 0) {
      client.destroy();
      return;
    }
    const target = new URL(candidates[next++ % candidates.length]);
    relay(client, target.hostname, Number(target.port), open);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    url: `http://127.0.0.1:${port}`,
    outSince,
    checked,
    async close() {
      closed = true;
      clearInterval(timer);
      open.forEach((socket) => socket.destroy());
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
