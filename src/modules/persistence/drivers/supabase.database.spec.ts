import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode } from '../../../common/errors/error-code';
import { SERVICE_ACTOR } from '../database.port';
import { SupabaseDatabase } from './supabase.database';

/** An HTTP server answering every request with this status and PostgREST error body. */
async function postgrestAnswering(status: number, code: string): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(
      JSON.stringify({ code, message: 'Database client error. Retrying the connection.', details: null, hint: null }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

describe(SupabaseDatabase.name, () => {
  let server: Server | undefined;

  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
    server = undefined;
  });

  it.each([
    ['PGRST000', 503],
    ['PGRST001', 503],
    ['PGRST002', 503],
    ['PGRST003', 504],
  ])('should fail a call with UNAVAILABLE when PostgREST cannot reach its database (%s, %i)', async (code, status) => {
    server = await postgrestAnswering(status, code);
    const sut = new SupabaseDatabase({
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      serviceRoleKey: 'service-role-key',
    });

    await expect(sut.call(SERVICE_ACTOR, 'ping')).rejects.toMatchObject({ code: ErrorCode.UNAVAILABLE });
  });
});
