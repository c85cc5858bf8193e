/**
 * The refresh tokens of local sign-in (migrations/*_refresh_tokens.sql) through the `Database` port, for every
 * driver: issue, rotate (with reuse detection) and revoke, as the service only. `refreshTokensRlsContract` proves
 * with raw SQL that no signed-in user reaches the table itself.
 */
import { randomBytes } from 'node:crypto';
import { SERVICE_ACTOR, userActor, type Database } from '../../src/modules/persistence/database.port';
import type { DriverHandle, PersistenceDriver, RawSqlDriver } from './persistence-contract';

interface Rotation {
  outcome: 'rotated' | 'reused' | 'revoked' | 'invalid';
  id: string | null;
  username: string | null;
  refresh_expires_at: unknown;
}

const TTL_SECONDS = 3600;

/** What the server stores of a token: 64 hex characters (here random; the server hashes a token). */
const newHash = (): string => randomBytes(32).toString('hex');

/** The SQLSTATE of a refused call, on the error or its cause (the drivers wrap it). */
async function sqlStateOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    const { code, cause } = error as { code?: unknown; cause?: { code?: unknown } };
    return String(cause?.code ?? code);
  }
  return undefined;
}

function calls(db: Database) {
  return {
    async profile(): Promise<{ id: string; username: string }> {
      const username = `rt_${randomBytes(6).toString('hex')}`;
      const [row] = await db.call<{ id: string; username: string }>(SERVICE_ACTOR, 'local_register', {
        p_username: username,
        p_display_name: username,
        p_password_hash: 'h',
      });
      return row;
    },
    issue(profileId: string, hash: string, ttl = TTL_SECONDS) {
      return db.call(SERVICE_ACTOR, 'local_issue_refresh_token', {
        p_profile_id: profileId,
        p_token_hash: hash,
        p_ttl_seconds: ttl,
      });
    },
    async rotate(hash: string, newTokenHash: string): Promise<Rotation> {
      const rows = await db.call<Rotation>(SERVICE_ACTOR, 'local_rotate_refresh_token', {
        p_token_hash: hash,
        p_new_token_hash: newTokenHash,
        p_ttl_seconds: TTL_SECONDS,
      });
      expect(rows).toHaveLength(1);
      return rows[0];
    },
    revoke(hash: string) {
      return db.call<{ profile_id: string }>(SERVICE_ACTOR, 'local_revoke_refresh_token', { p_token_hash: hash });
    },
  };
}

export function refreshTokensContract(name: string, driver: DriverHandle<PersistenceDriver>): void {
  const c = () => calls(driver.current.db);

  describe(`refresh tokens (${name})`, () => {
    it('should rotate a token once into the next of its family, with the profile and the new expiry', async () => {
      const profile = await c().profile();
      const [first, second, third] = [newHash(), newHash(), newHash()];
      await c().issue(profile.id, first);

      const rotated = await c().rotate(first, second);
      expect(rotated).toMatchObject({ outcome: 'rotated', id: profile.id, username: profile.username });
      const expires = new Date(rotated.refresh_expires_at as string).getTime();
      expect(Math.abs(expires - (Date.now() + TTL_SECONDS * 1000))).toBeLessThan(60_000);
      expect(await c().rotate(second, third)).toMatchObject({ outcome: 'rotated', id: profile.id });
    });

    it('should revoke the whole family when a spent token is rotated again', async () => {
      const profile = await c().profile();
      const [first, second, third] = [newHash(), newHash(), newHash()];
      await c().issue(profile.id, first);
      await c().rotate(first, second);
      const other = newHash();
      await c().issue(profile.id, other);

      expect(await c().rotate(first, newHash())).toMatchObject({ outcome: 'reused', id: profile.id, username: null });

      // Every token of the family is dead, the newest included; another family of the profile is not.
      expect((await c().rotate(second, third)).outcome).toBe('revoked');
      expect((await c().rotate(first, newHash())).outcome).toBe('revoked');
      expect((await c().rotate(other, newHash())).outcome).toBe('rotated');
    });

    it('should let one of concurrent rotations of a token win and count the others as reuse', async () => {
      const profile = await c().profile();
      const first = newHash();
      await c().issue(profile.id, first);
      const next = [newHash(), newHash(), newHash(), newHash()];

      const outcomes = await Promise.all(next.map((hash) => c().rotate(first, hash)));

      const winners = outcomes.filter((o) => o.outcome === 'rotated');
      expect(winners).toHaveLength(1);
      expect(
        outcomes.filter((o) => o.outcome !== 'rotated').every((o) => ['reused', 'revoked'].includes(o.outcome)),
      ).toBe(true);
      expect(outcomes.some((o) => o.outcome === 'reused')).toBe(true);
      const winnerHash = next[outcomes.indexOf(winners[0])];
      expect((await c().rotate(winnerHash, newHash())).outcome).toBe('revoked');
    });

    it('should answer invalid, with nothing else, for a token never issued and for one past its time', async () => {
      const profile = await c().profile();
      const expired = newHash();
      await c().issue(profile.id, expired, 0);

      for (const hash of [newHash(), expired]) {
        expect(await c().rotate(hash, newHash())).toMatchObject({
          outcome: 'invalid',
          id: null,
          username: null,
          refresh_expires_at: null,
        });
      }
    });

    it('should spend nothing when the rotation fails (one transaction): the token still rotates after', async () => {
      const profile = await c().profile();
      const [first, taken] = [newHash(), newHash()];
      await c().issue(profile.id, first);
      await c().issue(profile.id, taken);

      expect(await sqlStateOf(c().rotate(first, taken))).toBe('23505');

      expect((await c().rotate(first, newHash())).outcome).toBe('rotated');
    });

    it('should revoke the family of any of its tokens at logout, and say whose it was', async () => {
      const profile = await c().profile();
      const [first, second] = [newHash(), newHash()];
      await c().issue(profile.id, first);
      await c().rotate(first, second);

      expect(await c().revoke(first)).toEqual([{ profile_id: profile.id }]);

      expect((await c().rotate(second, newHash())).outcome).toBe('revoked');
      expect(await c().revoke(second)).toEqual([{ profile_id: profile.id }]);
      expect(await c().revoke(newHash())).toEqual([]);
    });

    it.each([
      ['not hex', 'z'.repeat(64)],
      ['upper-case hex', 'A'.repeat(64)],
      ['too short', 'a'.repeat(63)],
      ['a token itself', randomBytes(32).toString('base64url')],
    ])('should refuse to store a hash that is %s (23514)', async (_label, hash) => {
      const profile = await c().profile();
      expect(await sqlStateOf(c().issue(profile.id, hash))).toBe('23514');
    });

    it.each(['local_issue_refresh_token', 'local_rotate_refresh_token', 'local_revoke_refresh_token'])(
      'should refuse %s to a signed-in user (42501)',
      async (fn) => {
        const profile = await c().profile();
        const first = newHash();
        await c().issue(profile.id, first);
        const args: Record<string, Record<string, unknown>> = {
          local_issue_refresh_token: { p_profile_id: profile.id, p_token_hash: newHash(), p_ttl_seconds: 60 },
          local_rotate_refresh_token: { p_token_hash: first, p_new_token_hash: newHash(), p_ttl_seconds: 60 },
          local_revoke_refresh_token: { p_token_hash: first },
        };

        expect(await sqlStateOf(driver.current.db.call(userActor(profile.id), fn, args[fn]))).toBe('42501');

        // Nothing was spent or revoked: the token still rotates.
        expect((await c().rotate(first, newHash())).outcome).toBe('rotated');
      },
    );
  });
}

/** Beneath the functions: a signed-in user can neither read nor write the table, whatever they try. */
export function refreshTokensRlsContract(name: string, driver: DriverHandle<RawSqlDriver>): void {
  describe(`refresh tokens (${name}, raw SQL)`, () => {
    it.each([
      ['read the table', 'select * from chat_private.refresh_tokens'],
      [
        'insert a token',
        `insert into chat_private.refresh_tokens (token_hash, family_id, profile_id, expires_at)
         values (repeat('a', 64), gen_random_uuid(), $1, now() + interval '1 day')`,
      ],
      ['revoke tokens', 'update chat_private.refresh_tokens set revoked_at = now() where $1::uuid is not null'],
      ['delete tokens', 'delete from chat_private.refresh_tokens where $1::uuid is not null'],
    ])('should refuse a user who tries to %s (42501)', async (_label, sql) => {
      const { db, raw } = driver.current;
      const profile = await calls(db).profile();
      await calls(db).issue(profile.id, newHash());
      const values = sql.includes('$1') ? [profile.id] : [];

      const state = await raw.asUser(profile.id, (query) => sqlStateOf(query(sql, values)));

      expect(state).toBe('42501');
      const { rows } = await raw.admin(
        'select count(*)::int as n from chat_private.refresh_tokens where profile_id = $1 and revoked_at is null',
        [profile.id],
      );
      expect(rows[0].n).toBe(1);
    });
  });
}
