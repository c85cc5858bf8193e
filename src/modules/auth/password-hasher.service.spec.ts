import { randomUUID } from 'node:crypto';
import { PasswordHasher } from './password-hasher.service';

function makePassword(): string {
  return `pw-${randomUUID()}`;
}

describe(PasswordHasher.name, () => {
  it('should store a hash as scrypt$16384$8$1$<salt>$<hash>', async () => {
    const sut = new PasswordHasher();
    const password = makePassword();

    const stored = await sut.hash(password);

    expect(stored).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
    const [, , , , salt, hash] = stored.split('$');
    expect(Buffer.from(salt, 'base64')).toHaveLength(16);
    expect(Buffer.from(hash, 'base64')).toHaveLength(64);
    expect(stored).not.toContain(password);
  });

  it('should salt every hash, so two hashes of one password differ', async () => {
    const sut = new PasswordHasher();
    const password = makePassword();

    const first = await sut.hash(password);
    const second = await sut.hash(password);

    expect(second).not.toBe(first);
    expect(first.split('$')[4]).not.toBe(second.split('$')[4]);
  });

  it('should verify the right password', async () => {
    const sut = new PasswordHasher();
    const password = makePassword();
    const stored = await sut.hash(password);

    await expect(sut.verify(password, stored)).resolves.toBe(true);
  });

  it('should refuse a wrong password', async () => {
    const sut = new PasswordHasher();
    const stored = await sut.hash(makePassword());

    await expect(sut.verify(makePassword(), stored)).resolves.toBe(false);
  });

  it('should refuse a password that differs only in case', async () => {
    const sut = new PasswordHasher();
    const password = `Pw-${randomUUID()}`;
    const stored = await sut.hash(password);

    await expect(sut.verify(password.toLowerCase(), stored)).resolves.toBe(false);
  });

  it('should answer false when there is no stored hash', async () => {
    const sut = new PasswordHasher();

    await expect(sut.verify(makePassword(), undefined)).resolves.toBe(false);
  });

  it.each([
    '',
    'not-a-hash',
    'bcrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaA==',
    'scrypt$16384$8$1$$',
    'scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$',
    'scrypt$abc$8$1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA==',
    'scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$!!!!',
  ])('should answer false for the malformed stored hash %p', async (stored) => {
    const sut = new PasswordHasher();

    await expect(sut.verify(makePassword(), stored)).resolves.toBe(false);
  });

  it('should refuse a malformed stored hash whose key is shorter than the 64 bytes it writes', async () => {
    const sut = new PasswordHasher();
    const password = makePassword();
    const parts = (await sut.hash(password)).split('$');
    parts[5] = Buffer.from(parts[5], 'base64').subarray(0, 4).toString('base64');

    await expect(sut.verify(password, parts.join('$'))).resolves.toBe(false);
  });

  it('should treat composed and decomposed unicode as the same password', async () => {
    const sut = new PasswordHasher();
    const suffix = randomUUID();
    const composed = `\u00C5ngstr\u00F6m-${suffix}`;
    const decomposed = `A\u030Angstro\u0308m-${suffix}`;
    expect(decomposed).not.toBe(composed);

    const stored = await sut.hash(composed);

    await expect(sut.verify(decomposed, stored)).resolves.toBe(true);
    await expect(sut.verify(composed, await sut.hash(decomposed))).resolves.toBe(true);
  });

  it('should verify a password of emoji and other scripts', async () => {
    const sut = new PasswordHasher();
    const password = `пароль-密码-🔐-${randomUUID()}`;
    const stored = await sut.hash(password);

    await expect(sut.verify(password, stored)).resolves.toBe(true);
    await expect(sut.verify(password.replace('🔐', '🔑'), stored)).resolves.toBe(false);
  });
});
