import { MetricsService } from './metrics.service';

/** `chat_dependency_up` as a scrape shows it: value by dependency. */
async function dependenciesOf(sut: MetricsService): Promise<Record<string, number>> {
  const text = await sut.metrics();
  const up: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^chat_dependency_up\{dependency="(\w+)"\} (\d+)$/.exec(line);
    if (match) {
      up[match[1]] = Number(match[2]);
    }
  }
  return up;
}

describe(MetricsService.name, () => {
  describe('chat_dependency_up', () => {
    it('should report no dependency until one is watched', async () => {
      const sut = new MetricsService();

      expect(await dependenciesOf(sut)).toEqual({});
    });

    it('should ask each watched dependency at every scrape', async () => {
      const sut = new MetricsService();
      let databaseUp = true;
      sut.watchDependency('database', () => Promise.resolve(databaseUp));
      sut.watchDependency('redis', () => Promise.resolve(true));

      expect(await dependenciesOf(sut)).toEqual({ database: 1, redis: 1 });
      databaseUp = false;
      expect(await dependenciesOf(sut)).toEqual({ database: 0, redis: 1 });
      databaseUp = true;
      expect(await dependenciesOf(sut)).toEqual({ database: 1, redis: 1 });
    });

    it('should report a dependency whose check rejects as down, and still answer the scrape', async () => {
      const sut = new MetricsService();
      sut.watchDependency('database', () => Promise.reject(new Error('the database did not answer')));

      expect(await dependenciesOf(sut)).toEqual({ database: 0 });
    });
  });

  describe('chat_socket_event_duration_seconds', () => {
    it('should be a histogram by event and outcome, from 1 ms to 10 s', async () => {
      const sut = new MetricsService();

      sut.socketEventDuration.observe({ event: 'message:send', outcome: 'ok' }, 0.004);

      const text = await sut.metrics();
      expect(text).toContain('# TYPE chat_socket_event_duration_seconds histogram');
      expect(text).toContain(
        'chat_socket_event_duration_seconds_bucket{le="0.001",event="message:send",outcome="ok"} 0',
      );
      expect(text).toContain(
        'chat_socket_event_duration_seconds_bucket{le="0.005",event="message:send",outcome="ok"} 1',
      );
      expect(text).toContain('chat_socket_event_duration_seconds_bucket{le="10",event="message:send",outcome="ok"} 1');
      expect(text).toContain('chat_socket_event_duration_seconds_count{event="message:send",outcome="ok"} 1');
    });
  });
});
