import { once } from 'node:events';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { coalesceWrites } from './coalesced-writes';

describe('coalesceWrites', () => {
  let server: Server;
  let client: Socket;
  let served: Socket;
  let chunks: string[];

  beforeEach(async () => {
    server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    client = createConnection((server.address() as AddressInfo).port, '127.0.0.1');
    [served] = await accepted;
    chunks = [];
    client.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  });

  afterEach(async () => {
    client.destroy();
    served.destroy();
    server.close();
    await once(server, 'close');
  });

  it('should hold the writes of promise callbacks run together, and send them after them in order', async () => {
    coalesceWrites(served);
    const corkedDuringTurn: number[] = [];
    await Promise.resolve().then(() => {
      served.write('first;');
      served.write('ack;');
      corkedDuringTurn.push(served.writableCorked);
      return Promise.resolve().then(() => {
        served.write('message:new;');
        corkedDuringTurn.push(served.writableCorked);
      });
    });
    const received = new Promise<void>((resolve) =>
      client.on('data', () => chunks.join('') === 'first;ack;message:new;' && resolve()),
    );

    await received;
    expect(corkedDuringTurn).toEqual([1, 1]);
    expect(served.writableCorked).toBe(0);
    expect(chunks.join('')).toBe('first;ack;message:new;');
  });

  it('should uncork at the end of each turn, and keep the order across turns', async () => {
    coalesceWrites(served);
    served.write('a;');
    await new Promise((resolve) => setImmediate(resolve));
    const afterTurn = served.writableCorked;
    served.write('b;');
    const received = new Promise<void>((resolve) => client.on('data', () => chunks.join('') === 'a;b;' && resolve()));

    await received;
    expect(afterTurn).toBe(0);
    expect(chunks.join('')).toBe('a;b;');
  });
});
