import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { ChatPage, gate, launchChromium, type RoomOptions } from '../support/browser';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai';
import { HttpClient, signUp } from '../support/http-client';
import { startTestApp, type TestApp } from '../support/test-app';

const ARTIFACTS = join(__dirname, '..', 'artifacts');

describe('chat page (public/, in Chromium)', () => {
  let fake: FakeOpenAi;
  let app: TestApp;
  let browser: Browser;
  const pages: ChatPage[] = [];

  beforeAll(async () => {
    fake = await startFakeOpenAi();
    [app, browser] = await Promise.all([
      startTestApp({ OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: fake.url }),
      launchChromium(),
    ]);
    await mkdir(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    await Promise.all(pages.map((page) => page.close()));
    await browser?.close();
    await app?.close();
    await fake?.close();
  });

  async function openPage(): Promise<ChatPage> {
    const page = await ChatPage.open(browser, app.url);
    pages.push(page);
    return page;
  }

  /** Two people signed up through the page; the first creates a room, adds the second, and both open it. */
  async function twoInARoom(options: RoomOptions = {}, room = 'Lobby'): Promise<{ ada: ChatPage; bob: ChatPage }> {
    const [ada, bob] = await Promise.all([openPage(), openPage()]);
    await Promise.all([ada.register('Ada Lovelace', 'ada'), bob.register('Bob Hopper', 'bob')]);
    await ada.createRoom(room, { mode: 'always', ...options });
    await ada.addMember(bob.username);
    await bob.openRoom(room);
    return { ada, bob };
  }

  function expectNoPageErrors(...chatPages: ChatPage[]): void {
    expect(chatPages.flatMap((p) => p.errors.map((e) => e.message))).toEqual([]);
  }

  describe('sign in', () => {
    it("should show the server's problem detail for a wrong password, then sign in and out", async () => {
      const user = await signUp(app.url, 'web', 'Carol Web');
      const wrong = await new HttpClient(app.url).post('/api/auth/login', {
        username: user.username,
        password: 'not-the-password',
      });
      expect(wrong.status).toBe(401);
      const page = await openPage();

      await page.fillAuthForm(user.username, 'not-the-password');
      await page.page.getByRole('button', { name: 'Sign in' }).click();
      await page.page.getByRole('alert').filter({ hasText: wrong.body.detail }).waitFor();
      expect(await page.page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(false);

      await page.fillAuthForm(user.username, user.password);
      await page.page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitSignedIn();
      expect(await page.page.locator('#me').textContent()).toBe(`Carol Web (@${user.username})`);
      expect(await page.page.evaluate("sessionStorage.getItem('chat.token')")).toEqual(expect.any(String));

      await page.page.getByRole('button', { name: 'Sign out' }).click();
      await page.page.getByRole('button', { name: 'Register' }).waitFor();
      await page.connection('Offline').waitFor();
      expect(await page.page.evaluate("sessionStorage.getItem('chat.token')")).toBeNull();
      expectNoPageErrors(page);
    });
  });

  describe('messages', () => {
    it('should let two people in a room see each other, their typing and their messages both ways', async () => {
      fake.script({ kind: 'stream', chunks: ['Welcome, ', 'Bob.'] }, { kind: 'stream', chunks: ['Hello ', 'Ada.'] });
      const { ada, bob } = await twoInARoom();
      await ada.page.locator('#presence').filter({ hasText: 'Bob Hopper' }).waitFor();

      await bob.page.getByRole('textbox', { name: 'Message' }).fill('hi');
      await ada.page.getByText('Bob Hopper is typing…').waitFor();
      await bob.send('Hi Ada, Bob here');
      await ada.messages('Hi Ada, Bob here', 'complete').waitFor();
      await ada.page.locator('#typing:empty').waitFor();
      await ada.replies('Welcome, Bob.', 'complete').waitFor();

      await ada.send('Hello Bob, from Ada');
      await bob.messages('Hello Bob, from Ada', 'complete').waitFor();
      await Promise.all([ada, bob].map((p) => p.replies('Hello Ada.', 'complete').waitFor()));

      for (const page of [ada, bob]) {
        const texts = await page.page.locator('#messages li .body').allTextContents();
        expect(texts).toEqual(['Hi Ada, Bob here', 'Welcome, Bob.', 'Hello Bob, from Ada', 'Hello Ada.']);
        expect(await page.page.locator('#messages li.pending').count()).toBe(0);
      }
      expect(await bob.page.locator('#messages li', { hasText: 'Hello Bob' }).locator('.author').textContent()).toBe(
        'Ada Lovelace',
      );
      // The page connects over WebSocket only (no long-polling, which would need sticky sessions).
      for (const page of [ada, bob]) {
        expect(page.socketTransports.length).toBeGreaterThan(0);
        expect(new Set(page.socketTransports)).toEqual(new Set(['websocket']));
      }
      expectNoPageErrors(ada, bob);
    });

    it('should render what a person or the model wrote as text, never as HTML', async () => {
      const hostile = '<img src=x onerror="window.__xss=1"> look';
      const reply = '<b>bold</b><img src=y onerror="window.__xss=2"><script>window.__xss=3</script>';
      fake.script({ kind: 'stream', chunks: [reply.slice(0, 20), reply.slice(20)] });
      const { ada, bob } = await twoInARoom();

      await ada.send(hostile);
      for (const page of [ada, bob]) {
        await page.messages(hostile, 'complete').waitFor();
        await page.replies(reply, 'complete').waitFor();
        expect(await page.messages(hostile).locator('.body').textContent()).toBe(hostile);
        expect(await page.page.locator('#messages img, #messages b, #messages script').count()).toBe(0);
        expect(await page.page.evaluate(() => (globalThis as { __xss?: unknown }).__xss)).toBeUndefined();
      }
      expectNoPageErrors(ada, bob);
    });

    it('should load older pages when the list is scrolled to the top, each message once', async () => {
      const owner = await signUp(app.url, 'web', 'Dora Pages');
      const created = await owner.http.post('/api/rooms', { name: 'Long history', ai: { mode: 'off' } });
      for (let i = 1; i <= 60; i++) {
        const sent = await owner.http.post(`/api/rooms/${created.body.id}/messages`, { content: `Note ${i}.` });
        expect(sent.status).toBe(201);
      }
      const page = await openPage();
      await page.fillAuthForm(owner.username, owner.password);
      await page.page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitSignedIn();
      await page.openRoom('Long history');
      await page.messages('Note 60.').waitFor();
      expect(await page.page.locator('#messages li').count()).toBe(50);

      await page.page.locator('#messages').evaluate((list) => (list.scrollTop = 0));
      await page.messages('Note 1.').waitFor();
      const texts = await page.page.locator('#messages li .body').allTextContents();
      expect(texts).toEqual(Array.from({ length: 60 }, (_, i) => `Note ${i + 1}.`));
      expectNoPageErrors(page);
    });
  });

  describe('connection', () => {
    it('should catch up after going offline: nothing missed, nothing twice, the pending send delivered once', async () => {
      const { release, released } = gate();
      fake.script(
        { kind: 'gate', chunks: ['Partial ', 'and finished while you were away.'], release: released },
        { kind: 'stream', chunks: ['Reply to Bob.'] },
        { kind: 'stream', chunks: ['Reply to Ada.'] },
      );
      try {
        const { ada, bob } = await twoInARoom();
        await ada.send('Question before the outage');
        await ada.replies('Partial', 'streaming').waitFor();

        await ada.context.setOffline(true);
        await ada.connection('Offline').waitFor();
        release();
        await bob.replies('Partial and finished while you were away.', 'complete').waitFor();
        await bob.send('While you were away');
        await bob.replies('Reply to Bob.', 'complete').waitFor();
        await ada.send('Sent while offline');
        const pending = ada.messages('Sent while offline').and(ada.page.locator('li.pending'));
        await pending.waitFor();
        expect(await pending.locator('.status').textContent()).toBe('Sending…');
        expect(await ada.messages('While you were away').count()).toBe(0);

        await ada.context.setOffline(false);
        await ada.connection('Online').waitFor();
        await ada.replies('Reply to Ada.', 'complete').waitFor();
        await bob.replies('Reply to Ada.', 'complete').waitFor();
        const expected = [
          'Question before the outage',
          'Partial and finished while you were away.',
          'While you were away',
          'Reply to Bob.',
          'Sent while offline',
          'Reply to Ada.',
        ];
        for (const page of [ada, bob]) {
          expect(await page.page.locator('#messages li .body').allTextContents()).toEqual(expected);
          expect(await page.page.locator('#messages li:not([data-status="complete"])').count()).toBe(0);
        }
        expectNoPageErrors(ada, bob);
      } finally {
        release();
      }
    });
  });

  describe('assistant replies', () => {
    it('should stream a reply into both pages as its deltas arrive', async () => {
      const { release, released } = gate();
      const answer = [
        'A Socket.IO room is a channel on the server. ',
        'Every socket that joined it gets what is sent to it, ',
        'so each member sees each token of this reply as it arrives.',
      ];
      const { ada, bob } = await twoInARoom(
        { systemPrompt: 'You explain realtime systems in plain words.' },
        'Realtime study group',
      );
      fake.script(
        { kind: 'stream', chunks: ['Hi both! ', 'Ask me anything about realtime systems.'] },
        { kind: 'gate', chunks: answer, release: released },
      );
      await bob.send('Hi Ada! Shall we ask the assistant?');
      await ada.replies('Ask me anything', 'complete').waitFor();

      await ada.send('What is a room, in one paragraph?');
      for (const page of [ada, bob]) {
        const streaming = page.replies(answer[0].trim(), 'streaming');
        await streaming.getByRole('button', { name: 'Stop this reply' }).waitFor();
        expect(await streaming.locator('.body').textContent()).toBe(answer[0]);
      }
      release();
      for (const page of [ada, bob]) {
        const done = page.replies(answer.join(''), 'complete');
        await done.waitFor();
        expect(await done.getByRole('button', { name: 'Stop this reply' }).count()).toBe(0);
        expect(await page.messages('What is a room').count()).toBe(1);
      }
      await ada.page.getByRole('button', { name: 'Dismiss' }).click();
      await ada.page.screenshot({ path: join(ARTIFACTS, 'chat-streamed-reply.png') });
      expectNoPageErrors(ada, bob);
    });

    it('should cancel a slow reply in both pages when Stop is pressed', async () => {
      const { release, released } = gate();
      fake.script({ kind: 'gate', chunks: ['Let me think about ', 'this for a very long time.'], release: released });
      try {
        const { ada, bob } = await twoInARoom();
        await ada.send('A slow question');
        await bob.replies('Let me think about', 'streaming').waitFor();

        await bob.page.getByRole('button', { name: 'Stop this reply' }).click();
        for (const page of [ada, bob]) {
          const cancelled = page.replies('Let me think about', 'cancelled');
          await cancelled.waitFor();
          expect(await cancelled.locator('.status').textContent()).toBe('Cancelled');
          expect(await cancelled.locator('.body').textContent()).toBe('Let me think about ');
          expect(await page.page.getByRole('button', { name: 'Stop this reply' }).count()).toBe(0);
        }
        expectNoPageErrors(ada, bob);
      } finally {
        release();
      }
    });

    it("should show a truncated and a failed reply as such, the failure with the server's message", async () => {
      fake.script(
        { kind: 'stream', chunks: ['This reply hits the output ', 'limit'], finishReason: 'length' },
        { kind: 'error', status: 400 },
      );
      const page = await openPage();
      await page.register('Eve Limits', 'eve');
      await page.createRoom('Limits', { mode: 'always' });
      await page.send('Write a long essay');
      const truncated = page.replies('This reply hits the output limit', 'truncated');
      await truncated.waitFor();
      expect(await truncated.locator('.status').textContent()).toBe('Truncated: the reply was cut off');

      await page.send('Now something the provider refuses');
      const failed = page.page.locator('#messages li.assistant[data-status="failed"]');
      await failed.waitFor();
      const token = await page.page.evaluate("sessionStorage.getItem('chat.token')");
      const roomId = new URL(page.page.url()).hash.replace('#/rooms/', '');
      const stored = await new HttpClient(app.url, token as string).get(`/api/rooms/${roomId}/messages`);
      const failure = stored.body.messages.find((m: any) => m.status === 'failed');
      expect(failure.error).toEqual({ code: 'AI_FAILED', message: expect.any(String) });
      expect(await failed.locator('.status').textContent()).toBe(`Failed: ${failure.error.message}`);
      expectNoPageErrors(page);
    });

    it('should show the partial reply after a reload mid-stream, then its continuation', async () => {
      const { release, released } = gate();
      fake.script({ kind: 'gate', chunks: ['The first half, ', 'and the second half.'], release: released });
      try {
        const { ada, bob } = await twoInARoom();
        await ada.send('Tell me in two halves');
        await bob.replies('The first half', 'streaming').waitFor();

        await bob.page.reload();
        await bob.waitSignedIn();
        const partial = bob.replies('The first half', 'streaming');
        await partial.waitFor();
        expect(await partial.locator('.body').textContent()).toBe('The first half, ');

        release();
        await bob.replies('The first half, and the second half.', 'complete').waitFor();
        expect(await bob.messages('Tell me in two halves').count()).toBe(1);
        expect(await bob.page.locator('#messages li.assistant').count()).toBe(1);
        expectNoPageErrors(ada, bob);
      } finally {
        release();
      }
    });
  });
});
