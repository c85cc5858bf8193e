/** A query parameter name worth keeping in a log line; anything else may be a value sent without a name. */
const PARAMETER_NAME = /^[A-Za-z0-9_.[\]-]{1,64}$/;
const REDACTED = '[redacted]';

/** A path whose last segment is a secret: a device's push token (`DELETE /api/devices/:token`). */
const SECRET_SEGMENT = /^(\/api\/devices\/)[^/?]+/;

/**
 * A request URL for the logs: the path as it is but a push token in it, every query value redacted
 * (`?access_token=…` carries tokens, `?q=` what people search for). A parameter keeps its name when it looks like
 * one; a part without `=`, or with a name that does not, is redacted whole.
 */
export function redactUrl(raw: string): string {
  const url = raw.replace(SECRET_SEGMENT, `$1${REDACTED}`);
  const start = url.indexOf('?');
  if (start === -1 || start === url.length - 1) {
    return url;
  }
  const query = url
    .slice(start + 1)
    .split('&')
    .map((part) => {
      const equals = part.indexOf('=');
      const name = equals === -1 ? '' : part.slice(0, equals);
      return PARAMETER_NAME.test(name) ? `${name}=${REDACTED}` : REDACTED;
    })
    .join('&');
  return `${url.slice(0, start)}?${query}`;
}
