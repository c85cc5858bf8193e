/**
 * A phone back from the background (README "Mobile clients", PROTOCOL.md §4): its connection went while the app was
 * suspended; it connects again and re-joins each room with `afterSeq` = the last seq it holds, page by page, and gets
 * exactly what it missed — a long run of messages with an AI reply that was streaming in the middle of them, that
 * reply with its text so far, and the rest of the reply live.
 */
import {
  addMembers,
  createAiRoom,
  EventLog,
  gate,
  postMessage,
  storedMessages,
  useAiApp,
  watchRoom,
} from '../support/ai-helpers';
import { untilCount } from '../support/delivery-helpers';
import { signUp } from '../support/http-client';
import { range, seqs } from '../support/realtime-helpers';
import { collect, joinRoom, nextEvent, settle } from '../support/socket-client';

/** Messages sent on each side of the question while the phone is away: 120 in all, and the question and its reply. */
const AWAY_EACH_SIDE = 60;

describe('a client back from the background', () => {
  const t = useAiApp();

  it('should re-join with afterSeq and get exactly what it missed: 120+ messages and a reply streaming among them', async () => {
    const owner = await signUp(t.url, 'bg_own');
    const phone = await signUp(t.url, 'bg_pho');
    const room = await createAiRoom(owner, { mode: 'mention' });
    await addMembers(owner, room.id, phone);
    const watcher = await watchRoom(t.sockets, owner, room.id);

    // In the foreground: the phone holds seq 1..3.
    const foreground = await t.sockets.open(phone);
    const seen = collect<any>(foreground, 'message:new');
    await joinRoom(foreground, room.id);
    for (const i of range(1, 3)) {
      await postMessage(owner, room.id, `before-${i}`);
    }
    await untilCount(foreground, 'message:new', seen, 3, 10_000);
    const lastHeld = Math.max(...seqs(seen.map((e) => e.message)));
    expect(lastHeld).toBe(3);
    // The app goes to the background: the OS suspends it and its connection goes.
    foreground.close();

    const hold = gate();
    const chunks = ['While you were ', 'away, ', 'this reply went on.'];
    t.fake.script({ kind: 'gate', chunks, release: hold.release });
    try {
      const sent: string[] = [];
      for (const i of range(1, AWAY_EACH_SIDE)) {
        sent.push((await postMessage(owner, room.id, `away-${i}`)).content);
      }
      const question = await postMessage(owner, room.id, '@ai what did I miss?');
      sent.push(question.content);
      const reply = await watcher.log.replyStarted(question.id);
      await watcher.log.firstDelta(reply.id);
      for (const i of range(AWAY_EACH_SIDE + 1, 2 * AWAY_EACH_SIDE)) {
        sent.push((await postMessage(owner, room.id, `away-${i}`)).content);
      }

      // Back in the foreground: a new connection, then room:join from the last seq held until hasMore is false.
      const back = await t.sockets.open(phone);
      const log = new EventLog(back);
      const pages: any[] = [];
      for (let afterSeq = lastHeld; ;) {
        const page = await joinRoom(back, room.id, { afterSeq, limit: 100 });
        pages.push(page);
        if (!page.hasMore) {
          break;
        }
        afterSeq = page.messages[page.messages.length - 1].seq;
      }

      const caughtUp = pages.flatMap((page) => page.messages);
      const stored = await storedMessages(owner, room.id);
      const missed = 2 * AWAY_EACH_SIDE + 2;
      expect(stored).toHaveLength(lastHeld + missed);
      expect(pages.map((page) => page.messages.length)).toEqual([100, missed - 100]);
      // Exactly what it missed: every seq after the last it held, once each, in order.
      expect(seqs(caughtUp)).toEqual(range(lastHeld + 1, lastHeld + missed));
      expect(caughtUp.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(sent);
      // The reply among them, still streaming, with the text generated so far; the rest as stored.
      expect(reply.seq).toBe(question.seq + 1);
      expect(caughtUp.find((m) => m.id === reply.id)).toEqual({ ...reply, content: chunks[0] });
      expect(caughtUp.filter((m) => m.id !== reply.id)).toEqual(
        stored.filter((m) => m.seq > lastHeld && m.id !== reply.id),
      );

      // The reply goes on live from where the backlog left it, to its end.
      hold.open();
      const { text, final } = await log.rest(room.id, reply.id, chunks[0]);
      expect(text).toBe(chunks.join(''));
      expect(final).toMatchObject({ status: 'complete', content: chunks.join('') });

      // Nothing of the backlog comes again as an event; what is sent from now on comes live, once.
      const next = nextEvent<any>(back, 'message:new');
      await postMessage(owner, room.id, 'welcome back');
      expect((await next).message).toMatchObject({ seq: lastHeld + missed + 1, content: 'welcome back' });
      await settle(back);
      expect(log.of('message:new').map((e) => e.message.seq)).toEqual([lastHeld + missed + 1]);
    } finally {
      hold.open();
    }
  }, 60_000);
});
