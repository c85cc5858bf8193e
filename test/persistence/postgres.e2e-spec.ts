import { SERVICE_ACTOR, userActor } from '../../src/modules/persistence/database.port';
import { openPostgresDriver } from '../support/persistence-drivers';
import { openOncePerFile, persistenceContract, rawRlsContract } from './persistence-contract';
import { refreshTokensContract, refreshTokensRlsContract } from './refresh-tokens-contract';

// A fresh database on the real PostgreSQL server of the test run, opened once for the file.
const driver = openOncePerFile(openPostgresDriver);

persistenceContract('postgres', driver);
rawRlsContract('postgres', driver);
refreshTokensContract('postgres', driver);
refreshTokensRlsContract('postgres', driver);

describe('postgres: group commit as the server runs it (SERVER_GROUP_COMMIT)', () => {
  // A database of its own: the observer below is the driver's only one.
  const own = openOncePerFile(openPostgresDriver);

  it('should run one group at a time, so that a burst into busy rooms does not queue groups on their row locks', async () => {
    const db = own.current.db;
    const users: { id: string; username: string }[] = [];
    for (let i = 0; i < 5; i++) {
      const [p] = await db.call<{ id: string; username: string }>(SERVICE_ACTOR, 'local_register', {
        p_username: `burst_${i}_${Date.now().toString(36)}`,
        p_display_name: `Burst ${i}`,
        p_password_hash: 'not-a-hash',
      });
      users.push(p);
    }
    const [room] = await db.call<{ id: string }>(userActor(users[0].id), 'create_room', {
      p_name: 'burst',
      p_visibility: 'private',
      p_ai_mode: 'off',
      p_ai_system_prompt: null,
      p_ai_model: null,
    });
    for (const u of users.slice(1)) {
      await db.call(userActor(users[0].id), 'add_member', { p_room_id: room.id, p_username: u.username });
    }
    // Each group's span, from its calls' duration as they are told, once per group (the group is told first).
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

    // 250 sends at once: groups of at most 50 (SERVER_GROUP_COMMIT), so several; at least 3 with groups of up to 100.
    const rows = await Promise.all(
      Array.from({ length: 250 }, (_, i) =>
        db.callGrouped<{ seq: number }>(userActor(users[i % 5].id), 'post_message', {
          p_room_id: room.id,
          p_content: `burst ${i}`,
          p_client_id: `burst-${i}`,
        }),
      ),
    );

    expect(rows.map(([r]) => r.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    expect(spans.length).toBeGreaterThanOrEqual(3);
    spans.sort((a, b) => a[0] - b[0]);
    // Each group starts after the one before it ended (0.5 ms for the timers' rounding).
    const overlaps = spans.slice(1).filter(([start], i) => start < spans[i][1] - 0.5);
    expect(overlaps).toEqual([]);
  });
});
