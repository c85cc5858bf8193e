/**
 * Draws docs/screenshots/*.png: the demo page at desktop size and at 390×844, two people in a room with a markdown
 * reply from the fake OpenAI provider. Runs the built server (`node dist/main.js`) on a free port with its own data
 * directory; nothing here is a test (CI does not run it, so the tree stays clean).
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ChatPage, launchChromium, type ViewportName } from '../../test/support/browser';
import { startFakeOpenAi } from '../../test/support/fake-openai';

const ROOT = process.cwd();
const OUT = join(ROOT, 'docs', 'screenshots');

async function startServer(env: Record<string, string>): Promise<{ url: string; stop(): void }> {
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', LOG_LEVEL: 'info', ...env },
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { port?: unknown; msg?: unknown };
        if (typeof entry.port === 'number' && String(entry.msg).startsWith('listening on port')) {
          resolve(entry.port);
        }
      } catch {
        // not a log line
      }
    });
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'chat-screenshots-'));
  const fake = await startFakeOpenAi();
  const server = await startServer({ DATA_DIR: dataDir, OPENAI_API_KEY: 'screenshots', OPENAI_BASE_URL: fake.url });
  const browser = await launchChromium();
  try {
    await mkdir(OUT, { recursive: true });
    for (const viewport of ['desktop', 'phone'] as ViewportName[]) {
      fake.script({
        kind: 'stream',
        chunks: [
          'A room keeps its messages **in order** by `seq`. Catching up after a drop:\n\n',
          '```ts\nconst state = await chat.joinRoom(roomId);\nconsole.log(state.messages.length);\n```\n',
        ],
      });
      const [ada, bob] = await Promise.all([
        ChatPage.open(browser, server.url, viewport),
        ChatPage.open(browser, server.url, viewport),
      ]);
      await Promise.all([ada.register('Ada Lovelace', 'ada'), bob.register('Bob Hopper', 'bob')]);
      await ada.createRoom('Design review', { mode: 'always', systemPrompt: 'You explain realtime systems.' });
      await ada.addMember(bob.username);
      await bob.openRoom('Design review');
      await bob.page.locator('#presence').filter({ hasText: 'Ada Lovelace' }).waitFor();
      await ada.send('How does a client *catch up* after it was offline?');
      await bob.replies('Catching up', 'complete').waitFor();
      await bob.page.screenshot({ path: join(OUT, `${viewport}-room.png`) });
      await bob.showRoomList();
      await ada.createRoom('Release notes', { mode: 'off' });
      await ada.addMember(bob.username);
      await ada.send('v1.4 is out: markdown, unread counts and room settings.');
      await bob.page.locator('#my-rooms .badge').first().waitFor();
      await bob.page.screenshot({ path: join(OUT, `${viewport}-rooms.png`) });
      await ada.openSettings();
      await ada.page.screenshot({ path: join(OUT, `${viewport}-settings.png`) });
      await Promise.all([ada.close(), bob.close()]);
    }
    console.log(`screenshots written to ${OUT}`);
  } finally {
    await browser.close();
    server.stop();
    await fake.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
