import { Blocks } from './blocks';
import type { Connection } from './connection';
import type { Block, BlockState } from './protocol';

let ids = 0;
const profileId = () => `p${++ids}`;

/** A connection whose HTTP answers as the server would, and whose socket events the test fires. */
function fakeConnection(blocks: Block[] = []) {
  const listeners = new Map<string, (payload: unknown) => void>();
  const calls: string[] = [];
  const connection = {
    socket: { on: (event: string, listener: (payload: unknown) => void) => listeners.set(event, listener) },
    http: (method: string, path: string) => {
      calls.push(`${method} ${path}`);
      if (path === '/api/blocks') {
        return Promise.resolve({ blocks });
      }
      const id = decodeURIComponent(/\/api\/profiles\/(.+)\/block$/.exec(path)![1]);
      return Promise.resolve({ profileId: id, blocked: method === 'POST' });
    },
  };
  const fire = (event: string, payload: unknown) => listeners.get(event)!(payload);
  return { connection: connection as unknown as Connection, calls, fire };
}

describe(Blocks.name, () => {
  it('should block and unblock, telling of each change once whether the ack or the event comes first', async () => {
    const fake = fakeConnection();
    const changes: BlockState[] = [];
    const sut = new Blocks(fake.connection, (state) => changes.push(state));
    const bob = profileId();

    await sut.set(bob, true);
    fake.fire('block:updated', { profileId: bob, blocked: true });
    expect(sut.has(bob)).toBe(true);
    fake.fire('block:updated', { profileId: bob, blocked: false }); // another device unblocked
    await sut.set(bob, false);

    expect(sut.has(bob)).toBe(false);
    expect(changes).toEqual([
      { profileId: bob, blocked: true },
      { profileId: bob, blocked: false },
    ]);
    expect(fake.calls).toEqual([`POST /api/profiles/${bob}/block`, `DELETE /api/profiles/${bob}/block`]);
  });

  it('should know who is blocked from the list it reads', async () => {
    const [carol, dave] = [profileId(), profileId()];
    const profile = { id: carol, username: 'carol', displayName: 'Carol', avatarUrl: null, createdAt: '' };
    const fake = fakeConnection([{ profile, createdAt: '2026-01-01T00:00:00.000Z' }]);
    const sut = new Blocks(fake.connection, () => undefined);

    const blocks = await sut.load();

    expect(blocks.map((b) => b.profile.id)).toEqual([carol]);
    expect([sut.has(carol), sut.has(dave)]).toEqual([true, false]);
  });
});
