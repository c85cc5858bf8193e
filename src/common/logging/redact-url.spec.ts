import { randomBytes } from 'node:crypto';
import { redactUrl } from './redact-url';

describe(redactUrl.name, () => {
  it('should keep a URL without a query as it is', () => {
    expect(redactUrl('/api/rooms/3f1c2b9e-8d4a-4c6e-9b1a-7e5d0c2f4a81/messages')).toBe(
      '/api/rooms/3f1c2b9e-8d4a-4c6e-9b1a-7e5d0c2f4a81/messages',
    );
    expect(redactUrl('/api/rooms?')).toBe('/api/rooms?');
  });

  it('should redact every query value and keep the path and the parameter names', () => {
    const secret = randomBytes(16).toString('hex');

    const sut = redactUrl(`/api/rooms/public?q=${secret}&limit=5&access_token=${secret}`);

    expect(sut).toBe('/api/rooms/public?q=[redacted]&limit=[redacted]&access_token=[redacted]');
  });

  it.each([
    ['a part without a name', `/x?${'eyJhbGciOi'}`],
    ['an empty name', '/x?=eyJhbGciOi'],
    ['a name that is not one', '/x?eyJhbGciOi%2Fabc=1'],
    ['a name too long to be one', `/x?${'a'.repeat(65)}=1`],
  ])('should redact %s whole', (_, url) => {
    expect(redactUrl(url)).toBe('/x?[redacted]');
  });

  it('should redact the push token of a device path, and its query', () => {
    const token = `ExponentPushToken%5B${randomBytes(8).toString('hex')}%5D`;

    expect(redactUrl(`/api/devices/${token}`)).toBe('/api/devices/[redacted]');
    expect(redactUrl(`/api/devices/${token}?x=1`)).toBe('/api/devices/[redacted]?x=[redacted]');
    expect(redactUrl('/api/devices')).toBe('/api/devices');
  });
});
