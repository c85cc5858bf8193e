import { describeErrorCode, ErrorCode } from './error-code';

/** PROTOCOL.md §2, written down from the contract, not from the code. */
const CONTRACT_STATUS: Record<string, number> = {
  VALIDATION_FAILED: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

describe(describeErrorCode.name, () => {
  it('should know exactly the codes of the contract', () => {
    expect([...Object.values(ErrorCode)].sort()).toEqual(Object.keys(CONTRACT_STATUS).sort());
  });

  it.each(Object.values(ErrorCode))('should give %s the HTTP status of the contract', (code) => {
    const sut = describeErrorCode(code);

    expect(sut.status).toBe(CONTRACT_STATUS[code]);
  });

  it.each(Object.values(ErrorCode))('should give %s a non-empty title', (code) => {
    const sut = describeErrorCode(code);

    expect(sut.title.trim().length).toBeGreaterThan(0);
  });
});
