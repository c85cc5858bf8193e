import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Locator } from 'playwright-core';
import { ChatPage, gate, launchChromium, type RoomOptions, type ViewportName } from '../support/browser';
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

  async function openPage(viewport: ViewportName = 'desktop'): Promise<ChatPage> {
    const page = await ChatPage.open(browser, app.url, viewport);
    pages.push(page);
    return page;
  }

  /** Two people signed up through the page; the first creates a room, adds the second, and both open it. */
  async function twoInARoom(
    options: RoomOptions = {},
    room = 'Lobby',
    viewport: ViewportName = 'desktop',
  ): Promise<{ ada: ChatPage; bob: ChatPage }> {
    const [ada, bob] = await Promise.all([openPage(viewport), openPage(viewport)]);
    await Promise.all([ada.register('Ada Lovelace', 'ada'), bob.register('Bob Hopper', 'bob')]);
    await ada.createRoom(room, { mode: 'always', ...options });
    await ada.addMember(bob.username);
    await bob.openRoom(room);
    return { ada, bob };
  }

  /** The text of each message shown, in order (markdown renders paragraphs: trailing space and newlines go). */
  async function bodies(page: ChatPage): Promise<string[]> {
    return (await page.page.locator('#messages li .body').allTextContents()).map((text) => text.trim());
  }

  async function bodyOf(message: Locator): Promise<string | undefined> {
    return (await message.locator('.body').textContent())?.trim();
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
        const texts = await bodies(page);
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
        expect(await bodyOf(page.messages(hostile))).toBe(hostile);
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
      const texts = await bodies(page);
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
          expect(await bodies(page)).toEqual(expected);
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
        expect(await bodyOf(streaming)).toBe(answer[0].trim());
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
          expect(await bodyOf(cancelled)).toBe('Let me think about');
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
        expect(await bodyOf(partial)).toBe('The first half,');

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

  describe.each<ViewportName>(['desktop', 'phone'])('at %s size', (viewport) => {
    it('should fit the screen in every view, with every control reachable without scrolling sideways', async () => {
      const { ada, bob } = await twoInARoom({ mode: 'off' }, `Fit ${viewport}`, viewport);
      await ada.send('A message long enough to wrap on a phone: '.repeat(4) + 'https://example.com/' + 'x'.repeat(120));
      await bob.messages('A message long enough').waitFor();
      await bob.expectFitsViewport();
      await bob.showRoomList();
      await bob.expectFitsViewport();
      await bob.openRoom(`Fit ${viewport}`);
      const panel = await ada.openSettings();
      await panel.getByRole('button', { name: `Remove Bob Hopper` }).waitFor();
      await ada.expectFitsViewport();
      await ada.closeSettings();
      await ada.page.getByRole('button', { name: 'Sign out' }).click();
      await ada.page.getByRole('button', { name: 'Register' }).waitFor();
      await ada.expectFitsViewport();
      expectNoPageErrors(ada, bob);
    });

    it("should show the second joiner who is online, and the added member's room without a reload", async () => {
      const [ada, bob] = await Promise.all([openPage(viewport), openPage(viewport)]);
      await Promise.all([ada.register('Ada Lovelace', 'ada'), bob.register('Bob Hopper', 'bob')]);
      await ada.createRoom('Arrivals', { mode: 'off' });
      await ada.addMember(bob.username);

      await bob.roomLink('Arrivals').waitFor();
      await bob.openRoom('Arrivals');
      await bob.page.locator('#presence').filter({ hasText: 'Ada Lovelace' }).waitFor();
      expect(await bob.page.locator('#presence').textContent()).toBe('Online: Ada Lovelace, Bob Hopper (you)');
      await ada.page.locator('#presence').filter({ hasText: 'Bob Hopper' }).waitFor();
      const members = (await bob.openSettings()).getByRole('list', { name: 'Members' });
      await members.getByRole('listitem').filter({ hasText: 'Ada Lovelace' }).filter({ hasText: 'online' }).waitFor();
      expect(await members.getByRole('listitem').count()).toBe(2);
      expectNoPageErrors(ada, bob);
    });

    it('should render markdown, and a script or onerror payload inert, from a person and from the AI', async () => {
      const reply =
        'Here: **done**\n\n```js\nconst x = 1;\n```\n\n<img src=y onerror="window.__xss=2"><script>window.__xss=3</script>';
      fake.script({ kind: 'stream', chunks: [reply.slice(0, 30), reply.slice(30)] });
      const { ada, bob } = await twoInARoom({ mode: 'always' }, `Markdown ${viewport}`, viewport);
      const hostile = 'See *this* and `code` <img src=x onerror="window.__xss=1"> <script>window.__xss=4</script>';

      await ada.send(hostile);
      for (const page of [ada, bob]) {
        const mine = page.messages('See this and code', 'complete');
        await mine.waitFor();
        expect(await mine.locator('.body em').textContent()).toBe('this');
        expect(await mine.locator('.body code').textContent()).toBe('code');
        expect(await mine.locator('.body').textContent()).toContain('<img src=x onerror="window.__xss=1">');
        const answer = page.replies('Here: done', 'complete');
        await answer.waitFor();
        expect(await answer.locator('.body strong').textContent()).toBe('done');
        const code = answer.locator('.body pre code');
        expect(await code.textContent()).toBe('const x = 1;\n');
        expect(await code.evaluate((node) => (globalThis as any).getComputedStyle(node).fontFamily)).toMatch(/mono/i);
        await answer.getByRole('button', { name: 'Copy code' }).waitFor();
        expect(await answer.locator('.body').textContent()).toContain('<script>window.__xss=3</script>');
        expect(await page.page.locator('#messages img, #messages script, #messages [onerror]').count()).toBe(0);
        expect(await page.page.evaluate(() => (globalThis as { __xss?: unknown }).__xss)).toBeUndefined();
      }
      expectNoPageErrors(ada, bob);
    });

    it('should show the offline banner when the network goes, and take it away when it is back', async () => {
      const page = await openPage(viewport);
      await page.register('Olive Offline', 'olive');
      const banner = page.page.getByRole('alert').filter({ hasText: 'You are offline' });
      expect(await banner.isVisible()).toBe(false);

      await page.context.setOffline(true);
      await banner.waitFor();
      await page.connection('Offline').waitFor();
      await page.expectFitsViewport();
      await page.context.setOffline(false);
      await banner.waitFor({ state: 'hidden' });
      await page.connection('Online').waitFor();
      expectNoPageErrors(page);
    });

    it('should say so, not fail, when the public rooms cannot be read right after sign-in (the network went)', async () => {
      const page = await openPage(viewport);
      // The read of the public rooms that follows sign-in fails as it does when the network goes at that moment.
      await page.page.route('**/api/rooms/public', (route) => route.abort('internetdisconnected'));

      await page.register('Pat Public', 'pat');

      await page.page.getByRole('alert').filter({ hasText: 'The server cannot be reached' }).waitFor();
      expectNoPageErrors(page);
    });

    it('should keep a message that is too long in the composer, counted, and send it once shortened', async () => {
      const page = await openPage(viewport);
      await page.register('Lena Long', 'lena');
      await page.createRoom(`Long ${viewport}`, { mode: 'off' });
      const input = page.page.getByRole('textbox', { name: 'Message' });
      const long = 'word '.repeat(820).trim();
      expect(long.length).toBe(4099);

      await page.send(`${long}!`);
      await page.page
        .getByRole('alert')
        .filter({ hasText: 'Too long to send: 4,100 characters, at most 4,000' })
        .waitFor();
      expect(await input.inputValue()).toBe(`${long}!`);
      expect(await page.page.locator('#counter').textContent()).toBe('4,100 / 4,000');
      expect(await page.page.locator('#messages li').count()).toBe(0);

      await input.fill(long.slice(0, 3990));
      await input.press('Enter');
      await page.messages(long.slice(0, 50), 'complete').waitFor();
      expect(await input.inputValue()).toBe('');
      expectNoPageErrors(page);
    });

    it('should edit, delete and react, seen live by the other member and after a reload', async () => {
      const { ada, bob } = await twoInARoom({ mode: 'off' }, `Changes ${viewport}`, viewport);
      await ada.send('Helo everyone');
      await ada.send('Wrong room, sorry');
      await bob.send('Bob was here');
      await bob.send('Spam from Bob');
      await ada.messages('Spam from Bob', 'complete').waitFor();
      await bob.messages('Wrong room, sorry', 'complete').waitFor();
      const edit = (page: ChatPage, text: string) => page.messages(text).getByRole('button', { name: 'Edit message' });
      const del = (page: ChatPage, text: string) => page.messages(text).getByRole('button', { name: 'Delete message' });
      // Bob may change his own messages only; Ada, the owner, may delete anyone's.
      expect(await edit(bob, 'Helo everyone').count()).toBe(0);
      expect(await del(bob, 'Helo everyone').count()).toBe(0);
      expect([await edit(bob, 'Bob was here').count(), await del(bob, 'Bob was here').count()]).toEqual([1, 1]);
      expect([await edit(ada, 'Bob was here').count(), await del(ada, 'Bob was here').count()]).toEqual([0, 1]);

      await edit(ada, 'Helo everyone').click();
      await ada.page.getByRole('textbox', { name: 'Edit message' }).fill('Hello everyone');
      await ada.page.getByRole('button', { name: 'Save' }).click();
      for (const text of ['Wrong room, sorry', 'Spam from Bob']) {
        await del(ada, text).click();
        await ada.messages(text).getByRole('button', { name: 'Delete for everyone' }).click();
        await ada.messages(text).waitFor({ state: 'detached' });
      }
      const react = (page: ChatPage, emoji: string) =>
        page.messages('Hello everyone').getByRole('button', { name: `React with ${emoji}` });
      await react(bob, '👍').click();
      await react(ada, '👍').filter({ hasText: '👍 1' }).waitFor();
      await react(ada, '👍').click();
      await react(ada, '🎉').click();
      await react(ada, '🎉').filter({ hasText: '🎉 1' }).waitFor();
      await react(ada, '🎉').click(); // taken back

      const expectChanged = async (page: ChatPage, mine: string[]) => {
        await react(page, '🎉').filter({ hasText: /^🎉$/ }).waitFor();
        await react(page, '👍').filter({ hasText: '👍 2' }).waitFor();
        expect(await bodies(page)).toEqual(['Hello everyone', 'Message deleted', 'Bob was here', 'Message deleted']);
        expect(await page.messages('Hello everyone').locator('.edited').textContent()).toBe('(edited)');
        expect(await page.page.locator('#messages li.deleted .reactions').count()).toBe(0);
        const pressed = page.messages('Hello everyone').locator('button.reaction[aria-pressed="true"]');
        expect(await pressed.allTextContents()).toEqual(mine);
      };
      await expectChanged(ada, ['👍 2']);
      await expectChanged(bob, ['👍 2']);
      await bob.expectFitsViewport();
      await bob.page.screenshot({ path: join(ARTIFACTS, `chat-changes-${viewport}.png`) });

      await bob.page.reload();
      await bob.waitSignedIn();
      await bob.messages('Bob was here').waitFor();
      // After a reload the page knows the counts and which are Bob's own (the join's myReactions).
      await expectChanged(bob, ['👍 2']);
      expectNoPageErrors(ada, bob);
    });

    it('should regenerate an answer for both members and page between the versions, the newest first', async () => {
      fake.script({ kind: 'stream', chunks: ['First ', 'answer'] });
      const { ada, bob } = await twoInARoom({ mode: 'always' }, `Versions ${viewport}`, viewport);
      await ada.send('What is a rev?');
      await bob.replies('First answer', 'complete').waitFor();
      expect(await bob.replies('First answer').locator('.pager').count()).toBe(0);

      fake.script({ kind: 'stream', chunks: ['Second ', 'answer'] });
      await bob.replies('First answer').getByRole('button', { name: 'Regenerate answer' }).click();
      const position = (page: ChatPage, text: string) => page.replies(text).locator('.pager-position');
      for (const page of [ada, bob]) {
        await page.replies('Second answer', 'complete').waitFor();
        expect(await position(page, 'Second answer').textContent()).toBe('2/2');
        expect(await page.replies('First answer').count()).toBe(0);
        expect(await bodies(page)).toEqual(['What is a rev?', 'Second answer']);
      }

      await ada.page.getByRole('button', { name: 'Previous answer' }).click();
      await ada.replies('First answer', 'complete').waitFor();
      expect(await position(ada, 'First answer').textContent()).toBe('1/2');
      expect(await ada.page.getByRole('button', { name: 'Previous answer' }).isDisabled()).toBe(true);
      expect(await bodies(ada)).toEqual(['What is a rev?', 'First answer']);
      await ada.expectFitsViewport();
      await ada.page.screenshot({ path: join(ARTIFACTS, `chat-versions-${viewport}.png`) });
      await ada.page.getByRole('button', { name: 'Next answer' }).click();
      await ada.replies('Second answer').waitFor();

      // With the room's assistant off, nothing answers again: no Regenerate (the pager stays).
      const panel = await ada.openSettings();
      await panel.getByLabel('AI mode').selectOption('off');
      await panel.getByRole('button', { name: 'Save settings' }).click();
      await ada.page.getByRole('alert').filter({ hasText: 'Room settings saved.' }).waitFor();
      await bob.page.reload();
      await bob.waitSignedIn();
      await bob.replies('Second answer', 'complete').waitFor();
      expect(await position(bob, 'Second answer').textContent()).toBe('2/2');
      expect(await bob.replies('Second answer').getByRole('button', { name: 'Regenerate answer' }).count()).toBe(0);
      expectNoPageErrors(ada, bob);
    });

    it("should report another member's message with a reason, and show it reported", async () => {
      const { ada, bob } = await twoInARoom({ mode: 'off' }, `Reports ${viewport}`, viewport);
      await ada.send('Buy cheap watches at example.com');
      await bob.send('Please do not');
      await bob.messages('Please do not', 'complete').waitFor();
      const report = (page: ChatPage, text: string) =>
        page.messages(text).getByRole('button', { name: 'Report message' });
      expect(await report(bob, 'Please do not').count()).toBe(0);

      await report(bob, 'Buy cheap watches').click();
      await bob.page.getByRole('textbox', { name: 'Reason for the report' }).fill('Spam');
      await bob.page.getByRole('button', { name: 'Send report' }).click();
      await bob.messages('Buy cheap watches').locator('.reported').filter({ hasText: 'Reported' }).waitFor();
      expect(await report(bob, 'Buy cheap watches').count()).toBe(0);
      await bob.expectFitsViewport();

      const roomId = decodeURIComponent(new URL(ada.page.url()).hash.replace('#/rooms/', ''));
      const token = await ada.page.evaluate("sessionStorage.getItem('chat.token')");
      const reports = await new HttpClient(app.url, token as string).get(`/api/rooms/${roomId}/reports`);
      expect(reports.body.reports.map((r: any) => [r.reason, r.message.content])).toEqual([
        ['Spam', 'Buy cheap watches at example.com'],
      ]);
      expectNoPageErrors(ada, bob);
    });

    it("should show a blocked person's messages as placeholders, old and new, live, until unblocked", async () => {
      const { ada, bob } = await twoInARoom({ mode: 'off' }, `Blocks ${viewport}`, viewport);
      await bob.send('Bob says one');
      await ada.send('Ada answers');
      await ada.messages('Ada answers', 'complete').waitFor();
      await bob.messages('Ada answers', 'complete').waitFor();
      const block = (page: ChatPage, text: string) => page.messages(text).getByRole('button', { name: 'Block sender' });
      const placeholders = (page: ChatPage) =>
        page.page.locator('#messages li.withheld').filter({ hasText: 'Message from a blocked person' });
      expect(await block(bob, 'Bob says one').count()).toBe(0); // not his own

      await block(ada, 'Bob says one').click();
      await ada.messages('Bob says one').waitFor({ state: 'detached' });
      await bob.send('Bob says two');
      await bob.messages('Bob says two', 'complete').waitFor();
      await placeholders(ada).nth(1).waitFor();
      const hidden = ['Message from a blocked person', 'Ada answers', 'Message from a blocked person'];
      expect(await bodies(ada)).toEqual(hidden);
      expect(await placeholders(ada).getByRole('button', { name: 'Report message' }).count()).toBe(0);
      expect(await placeholders(ada).locator('.reactions').count()).toBe(0);
      expect(await bodies(bob)).toEqual(['Bob says one', 'Ada answers', 'Bob says two']);
      await ada.expectFitsViewport();
      await ada.page.screenshot({ path: join(ARTIFACTS, `chat-blocked-${viewport}.png`) });

      await ada.page.reload();
      await ada.waitSignedIn();
      await placeholders(ada).nth(1).waitFor();
      expect(await bodies(ada)).toEqual(hidden);
      const unblock = placeholders(ada).first().getByRole('button', { name: 'Unblock sender' });
      await unblock.click();
      await ada.messages('Bob says two').waitFor();
      await ada.messages('Bob says one').waitFor();
      expect(await bodies(ada)).toEqual(['Bob says one', 'Ada answers', 'Bob says two']);
      expect(await placeholders(ada).count()).toBe(0);
      await block(ada, 'Bob says two').waitFor();
      expectNoPageErrors(ada, bob);
    });

    it("should bring the owner's settings changes to the other member live, and a removal", async () => {
      const { ada, bob } = await twoInARoom({ mode: 'always' }, `Settings ${viewport}`, viewport);
      await bob.page.locator('#room-info').filter({ hasText: 'AI replies: Every message' }).waitFor();
      const bobPanel = await bob.openSettings();
      expect(await bobPanel.getByLabel('AI mode').isDisabled()).toBe(true);
      expect(await bobPanel.getByRole('button', { name: 'Delete room' }).isVisible()).toBe(false);
      await bob.closeSettings();

      const panel = await ada.openSettings();
      await panel.getByLabel('Room name').fill(`Renamed ${viewport}`);
      await panel.getByLabel('Room visibility').selectOption('public');
      await panel.getByLabel('AI mode').selectOption('off');
      await panel.getByLabel('Room system prompt').fill('Answer in haiku.');
      await panel.getByRole('button', { name: 'Save settings' }).click();
      await ada.page.getByRole('alert').filter({ hasText: 'Room settings saved.' }).waitFor();

      await bob.roomHeading(`Renamed ${viewport}`).waitFor();
      await bob.page.locator('#room-info').filter({ hasText: 'Public · AI replies: Off' }).waitFor();
      expect(await (await bob.openSettings()).getByLabel('Room system prompt').inputValue()).toBe('Answer in haiku.');
      await bob.closeSettings();

      await panel.getByRole('button', { name: 'Remove Bob Hopper' }).click();
      await bob.page.getByRole('alert').filter({ hasText: 'you were removed' }).waitFor();
      await bob.roomLink(`Renamed ${viewport}`).waitFor({ state: 'detached' });
      expectNoPageErrors(ada, bob);
    });
  });

  describe('with MESSAGE_EDIT_WINDOW_SECONDS=0', () => {
    let closedApp: TestApp;

    beforeAll(async () => {
      closedApp = await startTestApp({ MESSAGE_EDIT_WINDOW_SECONDS: '0' });
    });

    afterAll(async () => {
      await closedApp?.close();
    });

    it.each<ViewportName>(['desktop', 'phone'])(
      'should offer Delete but not Edit on own messages at %s size',
      async (viewport) => {
        const page = await ChatPage.open(browser, closedApp.url, viewport);
        pages.push(page);
        const limits = page.page.waitForResponse((response) => response.url().endsWith('/api/limits'));
        await page.register('Ada Lovelace', 'ada');
        expect((await limits).status()).toBe(200);
        await page.createRoom(`No edits ${viewport}`, { mode: 'off' });
        await page.send('Set in stone');
        const message = page.messages('Set in stone', 'complete');
        await message.getByRole('button', { name: 'Delete message' }).waitFor();
        expect(await message.getByRole('button', { name: 'Edit message' }).count()).toBe(0);
        expectNoPageErrors(page);
      },
    );
  });

  describe('with MODERATION=openai (before delivery, failing closed)', () => {
    let moderatedApp: TestApp;

    beforeAll(async () => {
      moderatedApp = await startTestApp({
        OPENAI_API_KEY: 'test-key',
        OPENAI_BASE_URL: fake.url,
        MODERATION: 'openai',
        MODERATION_MODE: 'pre',
        MODERATION_FAIL_OPEN: 'false',
        MODERATION_RETRY_MS: '1000',
      });
    });

    afterAll(async () => {
      fake.moderation.fail(null);
      await moderatedApp?.close();
    });

    it('should show a withheld message to its author and the owner, badged, and a placeholder to the others', async () => {
      const open = async (name: string) => {
        const page = await ChatPage.open(browser, moderatedApp.url);
        pages.push(page);
        return page.register(name, name.split(' ')[0].toLowerCase());
      };
      const [ada, bob, cleo] = await Promise.all([open('Ada Lovelace'), open('Bob Hopper'), open('Cleo Reader')]);
      await ada.createRoom('Moderated', { mode: 'off' });
      await ada.addMember(bob.username);
      await ada.addMember(cleo.username);
      await Promise.all([bob.openRoom('Moderated'), cleo.openRoom('Moderated')]);
      const badge = (page: ChatPage, text: string, label: string) =>
        page.messages(text).locator('.withheld-badge').filter({ hasText: label });
      const placeholder = (page: ChatPage, label: string) =>
        page.page.locator('#messages li.withheld').filter({ hasText: label });

      await bob.send('FLAGME you fool');
      await bob.page.getByRole('alert').filter({ hasText: 'withheld by moderation (harassment)' }).waitFor();
      await badge(bob, 'FLAGME you fool', 'Hidden from others').waitFor();
      await placeholder(cleo, 'Withheld by moderation').waitFor();
      // The room, its owner included, gets the placeholder live; the owner reads the text (PROTOCOL.md §3 Moderation).
      await placeholder(ada, 'Withheld by moderation').waitFor();
      await ada.page.reload();
      await ada.waitSignedIn();
      await badge(ada, 'FLAGME you fool', 'Hidden from others').waitFor();
      expect(await cleo.messages('FLAGME').count()).toBe(0);

      fake.moderation.fail('error');
      await bob.send('Checked once it is back');
      await bob.page.getByRole('alert').filter({ hasText: 'held for review' }).waitFor();
      await badge(bob, 'Checked once it is back', 'Held for review').waitFor();
      await placeholder(cleo, 'Held for review').waitFor();
      fake.moderation.fail(null);
      await cleo.messages('Checked once it is back').waitFor();
      expect(await bodies(cleo)).toEqual(['Withheld by moderation', 'Checked once it is back']);
      await cleo.expectFitsViewport();
      expectNoPageErrors(ada, bob, cleo);
    });
  });

  describe('room list', () => {
    it('should order rooms by activity with unread counts, and clear them once the room is read', async () => {
      const { ada, bob } = await twoInARoom({ mode: 'off' }, 'Quiet room');
      await ada.createRoom('Busy room', { mode: 'off' });
      await ada.addMember(bob.username);
      await bob.roomLink('Busy room').waitFor();
      await ada.send('Anyone here?');
      await ada.send('Hello?');

      const busy = bob.page.locator('#my-rooms li', { hasText: 'Busy room' });
      await busy.locator('.badge').filter({ hasText: '2' }).waitFor();
      expect(await busy.getByRole('link').getAttribute('aria-describedby')).toBeTruthy();
      expect(await bob.page.locator('#my-rooms .room-name').allTextContents()).toEqual(['Busy room', 'Quiet room']);

      await bob.openRoom('Busy room');
      await bob.messages('Hello?').waitFor();
      expect(await bodyOf(bob.page.locator('#messages li.first-unread'))).toBe('Anyone here?');
      await bob.openRoom('Quiet room');
      await bob.showRoomList();
      await busy.locator('.badge').waitFor({ state: 'detached' });
      const token = await bob.page.evaluate("sessionStorage.getItem('chat.token')");
      const rooms = await new HttpClient(app.url, token as string).get('/api/rooms');
      expect(rooms.body.rooms.find((r: any) => r.name === 'Busy room').unread).toBe(0);
      expectNoPageErrors(ada, bob);
    });
  });
});
