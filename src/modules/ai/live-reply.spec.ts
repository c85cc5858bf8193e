import { randomUUID } from 'node:crypto';
import type { RealtimeBroadcaster } from '../../common/realtime/realtime-broadcaster';
import type { RoomEvents } from '../../common/realtime/server-events';
import type { MessageDto } from '../../common/messages/message';
import { LiveReply } from './live-reply';

type Delta = RoomEvents['message:delta'];

function newReplyMessage(): MessageDto {
  return {
    id: randomUUID(),
    roomId: randomUUID(),
    seq: 2,
    role: 'assistant',
    senderId: null,
    content: '',
    status: 'streaming',
    replyToId: randomUUID(),
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
  } as MessageDto;
}

/** A broadcaster that records the deltas it is asked to send. */
function newBroadcaster(): { broadcaster: RealtimeBroadcaster; deltas: Delta[] } {
  const deltas: Delta[] = [];
  const broadcaster = {
    toRoom: (_roomId: string, event: string, payload: unknown) => {
      if (event === 'message:delta') {
        deltas.push(payload as Delta);
      }
    },
  } as unknown as RealtimeBroadcaster;
  return { broadcaster, deltas };
}

/** A keeper whose first call waits until `release()`; the later ones are kept at once. */
function newSlowKeeper(): { keep: (delta: string) => Promise<void>; kept: string[]; release: () => void } {
  const kept: string[] = [];
  let release = (): void => undefined;
  const first = new Promise<void>((resolve) => {
    release = resolve;
  });
  return {
    kept,
    release: () => release(),
    keep: (delta) => {
      kept.push(delta);
      return kept.length === 1 ? first : Promise.resolve();
    },
  };
}

describe(LiveReply.name, () => {
  it('should send the first text at once when nothing keeps it', () => {
    const { broadcaster, deltas } = newBroadcaster();
    const sut = new LiveReply(newReplyMessage(), broadcaster);

    sut.append('Hello');

    expect(deltas.map((d) => [d.offset, d.delta])).toEqual([[0, 'Hello']]);
    expect(sut.visible).toBe('Hello');
  });

  it('should keep one delta at a time, send it once kept, and send the text that came meanwhile as one delta', async () => {
    const { broadcaster, deltas } = newBroadcaster();
    const keeper = newSlowKeeper();
    const sut = new LiveReply(newReplyMessage(), broadcaster, keeper.keep);
    sut.append('Once');
    sut.flush();
    sut.append(' upon');
    sut.flush();
    sut.append(' a time');
    // Nothing is sent before it is kept, so a joiner on another instance never reads less than was sent.
    expect(deltas).toEqual([]);

    keeper.release();
    await sut.settle();

    expect(keeper.kept).toEqual(['Once', ' upon a time']);
    expect(deltas.map((d) => [d.offset, d.delta])).toEqual([
      [0, 'Once'],
      [4, ' upon a time'],
    ]);
    expect(sut.visible).toBe('Once upon a time');
  });

  it('should still send a delta that could not be kept', async () => {
    const { broadcaster, deltas } = newBroadcaster();
    const sut = new LiveReply(newReplyMessage(), broadcaster, () => Promise.reject(new Error('Redis is away')));

    sut.append('Hello');
    await sut.settle();

    expect(deltas.map((d) => [d.offset, d.delta])).toEqual([[0, 'Hello']]);
  });
});
