import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';
import type { AppConfig } from '../../config/app-config';

/**
 * The caller's IP address the way Express reads it for HTTP (`req.ip` under TRUST_PROXY), for transports
 * that do not go through Express (the Socket.IO handshake): per-IP limits then count the same address.
 */
export function clientAddressResolver(trust: AppConfig['trustProxy']): (req: IncomingMessage) => string {
  const trusts: (address: string, hop: number) => boolean =
    trust === false || trust === true
      ? () => trust
      : typeof trust === 'number'
        ? (_address, hop) => hop < trust
        : proxyaddr.compile(trust.split(',').map((part) => part.trim()));
  return (req) => proxyaddr(req, trusts);
}
