import { SERVICE_ACTOR, userActor } from '../../src/modules/persistence/database.port';
import { SERVER_GROUP_COMMIT } from '../../src/modules/persistence/drivers/pg.database';
import { openPostgresDriver } from '../support/persistence-drivers';
import { openOncePerFile, persistenceContract, rawRlsContract } from './persistence-contract';
import { refreshTokensContract, refreshTokensRlsContract } from './refresh-tokens-contract';

// A fresh database on the real PostgreSQL server of the test run, opened once for the file.
const driver = openOncePerFile(openPostgresDriver);

persistenceContract('postgres', driver);
rawRlsContract('postgres', driver);
refreshTokensContract('postgres', driver);
refreshTokensRlsContract('postgres', driver);

describe('postgres: group commit as the server runs it (SERVER_GROUP_COMMIT, DATABASE_GROUP_LANES)', () => {
  // Databases of their own: the observer below is the driver's only one. One as the server opens it by default (one
  // lane), one with DATABASE_GROUP_LANES=2.
  const oneLane = openOncePerFile(() => openPostgresDriver());
  const twoLanes = openOncePerFile(() => openPostgresDriver(undefined, { ...SERVER_GROUP_COMMIT, maxInFlight: 2 }));
  type Db = typeof oneLane.current.db;

  /** `count` rooms of 5 members each (members of no other room), made by their first member. */
  async function busyRooms(db: Db, count: number): Promise<{ id: string; members: string[] }[]> {
    const rooms: { id: string; members: string[] }[] = [];
    for (let r = 0; r < count; r++) {
      const users: { id: string; username: string }[] = [];
      for (let i = 0; i < 5; i++) {
        const [p] = await db.call<{ id: string; username: string }>(SERVICE_ACTOR, 'local_register', {
          p_username: `burst_${r}_${i}_${Date.now().toString(36)}`,
          p_display_name: `Burst ${i}`,
          p_password_hash: 'not-a-hash',
        });
        users.push(p);
      }
      const [room] = await db.call<{ id: string }>(userActor(users[0].id), 'create_room', {
        p_name: `burst ${r}`,
        p_visibility: 'private',
        p_ai_mode: 'off',
        p_ai_system_prompt: null,
        p_ai_model: null,
      });
      for (const u of users.slice(1)) {
        await db.call(userActor(users[0].id), 'add_member', { p_room_id: room.id, p_username: u.username });
      }
      rooms.push({ id: room.id, members: users.map((u) => u.id) });
    }
    return rooms;
  }

  /** Each group's span from now on, from its calls' duration as they are told, once per group (the group is told first). */
  function groupSpans(db: Db): [number, number][] {
    const spans: [number, number][] = [];
    let groupJustEnded = false;
    db.observe(
      (fn, durationMs) => {
        if (fn === 'post_message' && groupJustEnded) {
          groupJustEnded = false;
          const end = performance.now();
          spans.push([end - durationMs, end]);
        }
      },
      () => {
        groupJustEnded = true;
      },
    );
    return spans;
  }

  /** Sends `count` messages at once, the i-th into `rooms[i % rooms.length]`; their rows in the order they were sent. */
  function burst(db: Db, rooms: { id: string; members: string[] }[], count: number) {
    return Promise.all(
      Array.from({ length: count }, (_, i) => {
        const room = rooms[i % rooms.length];
        return db
          .callGrouped<{ seq: number; chatroom_id: string }>(userActor(room.members[i % 5]), 'post_message', {
            p_room_id: room.id,
            p_content: `burst ${i}`,
            p_client_id: `burst-${i}`,
          })
          .then(([row]) => row);
      }),
    );
  }

  /** Groups that began before the one before them ended (0.5 ms for the timers' rounding). */
  function overlapping(spans: [number, number][]): [number, number][] {
    const sorted = [...spans].sort((a, b) => a[0] - b[0]);
    return sorted.slice(1).filter(([start], i) => start < sorted[i][1] - 0.5);
  }

  it('should run one group at a time by default, so that a burst into busy rooms does not queue groups on their row locks', async () => {
    const db = oneLane.current.db;
    const rooms = await busyRooms(db, 2);
    const spans = groupSpans(db);

    // 250 sends at once: groups of at most 50 (SERVER_GROUP_COMMIT), so several; at least 3 with groups of up to 100.
    const rows = await burst(db, rooms, 250);

    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 250 }, (_, i) => Math.floor(i / 2) + 1));
    expect(spans.length).toBeGreaterThanOrEqual(3);
    expect(overlapping(spans)).toEqual([]);
  });

  it("should run one group at a time for a room with two lanes, each room's sends stored in the order they were sent", async () => {
    const db = twoLanes.current.db;
    const [room] = await busyRooms(db, 1);
    const spans = groupSpans(db);

    const rows = await burst(db, [room], 250);

    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    expect(spans.length).toBeGreaterThanOrEqual(5);
    expect(overlapping(spans)).toEqual([]);
  });

  it('should run groups of different rooms at once with two lanes, keeping each room in order', async () => {
    const db = twoLanes.current.db;
    const rooms = await busyRooms(db, 4);
    const spans = groupSpans(db);

    const rows = await burst(db, rooms, 400);

    // Each room's 100 sends got its seqs 1..100 in the order they were sent.
    for (const [r, room] of rooms.entries()) {
      const mine = rows.filter((_, i) => i % rooms.length === r);
      expect(mine.map((row) => row.chatroom_id)).toEqual(mine.map(() => room.id));
      expect(mine.map((row) => row.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    }
    expect(overlapping(spans).length).toBeGreaterThan(0);
  });
});
