import { randomUUID } from 'node:crypto';
import { ORDER_WAIT_MS, SeqOrderer } from './seq-orderer';

describe(SeqOrderer.name, () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function harness() {
    const sut = new SeqOrderer();
    const sent: number[] = [];
    const emit = (roomId: string, seq: number) => sut.emit(roomId, seq, () => sent.push(seq));
    return { sut, sent, emit };
  }

  it('should send in order what arrives in order', () => {
    const { sent, emit } = harness();
    const room = randomUUID();

    [1, 2, 3].forEach((seq) => emit(room, seq));

    expect(sent).toEqual([1, 2, 3]);
  });

  it('should hold a message until the one before it arrives, then send both in order', () => {
    const { sent, emit } = harness();
    const room = randomUUID();

    emit(room, 1);
    emit(room, 3);
    emit(room, 4);
    expect(sent).toEqual([1]);
    emit(room, 2);

    expect(sent).toEqual([1, 2, 3, 4]);
  });

  it('should send a held message anyway when its predecessor never comes', () => {
    const { sent, emit } = harness();
    const room = randomUUID();

    emit(room, 7);
    emit(room, 9);
    jest.advanceTimersByTime(ORDER_WAIT_MS - 1);
    expect(sent).toEqual([7]);
    jest.advanceTimersByTime(1);

    expect(sent).toEqual([7, 9]);
    emit(room, 10);
    expect(sent).toEqual([7, 9, 10]);
  });

  it('should send a late message at once, and keep rooms apart', () => {
    const { sent, emit } = harness();
    const [a, b] = [randomUUID(), randomUUID()];

    emit(a, 5);
    emit(b, 1);
    emit(a, 4);

    expect(sent).toEqual([5, 1, 4]);
  });
});
