/**
 * AI capacity is shared fairly: one heavy user cannot take every reply slot (AI_MAX_CONCURRENT_PER_USER), and a
 * room that is deleted stops its replies where they are generated (the provider stream does not run on for
 * nobody).
 */
import { eventually } from '../support/eventually';
import { signUp } from '../support/http-client';
import { createAiRoom, gate, postMessage, useAiApp, within } from '../support/ai-helpers';

describe('AI capacity and rooms that go away', () => {
  const t = useAiApp({ AI_STALL_TIMEOUT_MS: '120000', AI_FIRST_TOKEN_TIMEOUT_MS: '120000' });

  it('should stop a reply mid-stream when its room is deleted', async () => {
    const owner = await signUp(t.url, 'del');
    const room = await createAiRoom(owner, { mode: 'always' });
    const before = t.fake.requests.length;
    t.fake.script({ kind: 'stall', chunks: ['never ', 'finishing'] });
    await postMessage(owner, room.id, 'tell me a long story');
    const request = (await t.fake.waitForRequests(before + 1))[before];

    expect((await owner.http.delete(`/api/rooms/${room.id}`)).status).toBe(204);

    await within(request.closedByClient, 'the provider stream closed', 5000);
    expect(request.closedEarly()).toBe(true);
  });

  it("should start another user's reply at once while two heavy users hold 16 slow replies each", async () => {
    const release = gate();
    t.fake.setDefault({ kind: 'gate', chunks: ['slow ', 'reply'], release: release.release });
    try {
      const heavy = [await signUp(t.url, 'hv'), await signUp(t.url, 'hv')];
      for (const user of heavy) {
        for (let i = 0; i < 16; i += 1) {
          const room = await createAiRoom(user, { mode: 'always' });
          await postMessage(user, room.id, `slow question ${i}`);
        }
      }
      const before = t.fake.requests.length;
      const light = await signUp(t.url, 'lt');
      const room = await createAiRoom(light, { mode: 'always' });

      await postMessage(light, room.id, 'a quick one, please');

      // The light user's request reaches the provider while every heavy reply is still held open.
      await eventually(
        () => t.fake.requests.slice(before).some((r) => JSON.stringify(r.body).includes('a quick one')),
        'the third user reply started',
        5000,
      );
      // Each heavy user has at most AI_MAX_CONCURRENT_PER_USER (4) replies in progress.
      const inProgress = t.fake.requests.filter((r) => /slow question/.test(JSON.stringify(r.body))).length;
      expect(inProgress).toBeLessThanOrEqual(8);
    } finally {
      release.open();
      t.fake.setDefault({ kind: 'stream', chunks: ['Hello from the fake.'] });
    }
  });
});
