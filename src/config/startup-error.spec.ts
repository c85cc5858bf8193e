import { listenRefusal, StartupError } from './startup-error';

function errnoError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`listen ${code}: something`), { code });
}

describe(listenRefusal.name, () => {
  it('should name PORT and what to do when the port is in use', () => {
    const sut = listenRefusal(errnoError('EADDRINUSE'), 3000);

    expect(sut).toBeInstanceOf(StartupError);
    expect(sut?.message).toBe('PORT 3000 is already in use: stop what holds it or set PORT');
  });

  it('should name PORT when the port needs privileges', () => {
    const sut = listenRefusal(errnoError('EACCES'), 80);

    expect(sut?.message).toBe('PORT 80 needs privileges this process lacks: set PORT above 1023');
  });

  it.each([[errnoError('EMFILE')], [new Error('boom')], [undefined], ['text']])(
    'should leave any other failure alone (%p)',
    (error) => {
      expect(listenRefusal(error, 3000)).toBeUndefined();
    },
  );
});
