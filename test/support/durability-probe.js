// Runs the app's embedded database (dist/) and writes `ack N` to stdout after each commit it gets back, so that a
// system call trace (strace) shows where each ack falls against the engine's writes and syncs. Then a checkpoint,
// and `checkpointed`. Usage: node durability-probe.js <dist dir> <data dir> <sends>
'use strict';
const { writeSync } = require('node:fs');
const { join } = require('node:path');

async function main() {
  const [dist, dataDir, sends] = process.argv.slice(2);
  const { startEmbeddedDatabase } = require(join(dist, 'modules/persistence/drivers/embedded.database'));
  const { runMigrations } = require(join(dist, 'modules/persistence/migration-runner'));
  const { SERVICE_ACTOR, userActor } = require(join(dist, 'modules/persistence/database.port'));
  const db = await startEmbeddedDatabase(dataDir);
  try {
    await runMigrations(db);
    const [profile] = await db.call(SERVICE_ACTOR, 'local_register', {
      p_username: 'probe',
      p_display_name: 'Probe',
      p_password_hash: 'not-a-hash',
    });
    const actor = userActor(profile.id);
    const [room] = await db.call(actor, 'create_room', {
      p_name: 'probe',
      p_visibility: 'private',
      p_ai_mode: 'off',
      p_ai_system_prompt: null,
      p_ai_model: null,
    });
    writeSync(1, 'ready\n');
    for (let i = 1; i <= Number(sends); i += 1) {
      await db.callGrouped(actor, 'post_message', { p_room_id: room.id, p_content: `m${i}`, p_client_id: `c${i}` });
      writeSync(1, `ack ${i}\n`);
    }
    // The engine's single session: a checkpoint through the driver's one connection.
    await db.pool.query('checkpoint');
    writeSync(1, 'checkpointed\n');
  } finally {
    await db.close();
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
