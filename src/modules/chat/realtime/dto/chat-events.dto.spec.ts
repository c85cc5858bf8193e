import 'reflect-metadata';
import { AppException } from '../../../../common/errors/app.exception';
import { validateFast } from '../../../../common/validation/fast-payload';
import { validatePayload } from '../../../../common/validation/validate-payload';
import { SEND_MESSAGE_EVENT, SendMessageEvent, TYPING_EVENT, TypingEvent } from './chat-events.dto';

type Outcome = { ok: true; value: unknown } | { ok: false; code: string; message: string; details: unknown };

async function outcomeOf(run: () => unknown): Promise<Outcome> {
  try {
    // A plain copy: the class-validator path returns a class instance, the fast path a plain object.
    return { ok: true, value: JSON.parse(JSON.stringify(await run())) as unknown };
  } catch (error) {
    if (!(error instanceof AppException)) {
      throw error;
    }
    return { ok: false, code: error.code, message: error.message, details: error.details };
  }
}

const ROOM = '5b0c6c1e-2f7d-4e59-a3c8-0d9e1f2a3b4c';
/** Values of every kind a hostile or buggy client sends in a field. */
const VALUES: unknown[] = [
  undefined,
  null,
  0,
  -1,
  1.5,
  Number.NaN,
  true,
  false,
  '',
  ' ',
  'x',
  ROOM,
  ROOM.toUpperCase(),
  '00000000-0000-0000-0000-000000000000',
  `${ROOM} `,
  'not-a-uuid',
  'ok_client-ID',
  'a'.repeat(64),
  'a'.repeat(65),
  'bad id!',
  'tab\there',
  'nul\u0000inside',
  'lone \ud800 surrogate',
  'emoji 😀',
  [],
  ['x'],
  {},
  { toString: 'x' },
];

/** Every value in every field (the others valid), and payloads that are not objects or carry more. */
function payloads(valid: Record<string, unknown>): unknown[] {
  const fields = Object.keys(valid);
  const list: unknown[] = [undefined, null, 'text', 42, [], [valid], valid, { ...valid, extra: 'ignored', seq: 9 }];
  for (const field of fields) {
    for (const value of VALUES) {
      list.push({ ...valid, [field]: value });
      // With another field wrong too: both reported, in order.
      const other = fields.find((f) => f !== field);
      if (other) {
        list.push({ ...valid, [field]: value, [other]: 7 });
      }
    }
    const missing: Record<string, unknown> = { ...valid };
    delete missing[field];
    list.push(missing);
  }
  list.push(JSON.parse(`{"__proto__": {"roomId": "${ROOM}"}}`));
  list.push(Object.create({ roomId: ROOM }) as object);
  return list;
}

describe('validateFast against validatePayload', () => {
  it.each([
    ['message:send', SendMessageEvent, SEND_MESSAGE_EVENT, { roomId: ROOM, content: 'hello', clientId: 'c-1' }],
    ['typing:update', TypingEvent, TYPING_EVENT, { roomId: ROOM, isTyping: true }],
  ] as const)('should answer every %s payload exactly as class-validator does', async (_event, type, schema, valid) => {
    const cases = payloads(valid);

    for (const payload of cases) {
      const slow = await outcomeOf(() => validatePayload(type as new () => object, payload));
      const fast = await outcomeOf(() => validateFast(schema as never, payload));
      expect({ payload, outcome: fast }).toEqual({ payload, outcome: slow });
    }
    expect(cases.length).toBeGreaterThan(60);
  });
});
