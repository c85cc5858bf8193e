import { SERVICE_ACTOR, userActor, type Database } from '../../src/modules/persistence/database.port';

/** Test data made through the database's own functions, as the service or as a user (like the app's calls). */
export function rawFixtures(db: () => Database) {
  let n = 0;
  const unique = (prefix: string) => `${prefix}_${process.pid}_${Date.now().toString(36)}_${(n += 1)}`;
  return {
    async user(): Promise<{ id: string; username: string }> {
      const username = unique('rr');
      const [row] = await db().call<{ id: string }>(SERVICE_ACTOR, 'local_register', {
        p_username: username,
        p_display_name: username,
        p_password_hash: `hash-of-${username}`,
      });
      return { id: row.id, username };
    },
    async room(ownerId: string): Promise<string> {
      const [row] = await db().call<{ id: string }>(userActor(ownerId), 'create_room', {
        p_name: unique('room'),
        p_visibility: 'private',
        p_ai_mode: 'off',
        p_ai_system_prompt: null,
        p_ai_model: null,
      });
      return row.id;
    },
    async add(ownerId: string, roomId: string, username: string): Promise<void> {
      await db().call(userActor(ownerId), 'add_member', { p_room_id: roomId, p_username: username });
    },
    async post(senderId: string, roomId: string, count: number): Promise<void> {
      for (let i = 0; i < count; i += 1) {
        await db().call(userActor(senderId), 'post_message', {
          p_room_id: roomId,
          p_content: `m${i}`,
          p_client_id: null,
        });
      }
    },
  };
}
