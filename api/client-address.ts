import type { Request } from 'express';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * The key of a client address for every per-IP limit (login, registration, the rate limits): an
 * IPv4 address as it is, an IPv6 one by its /64 (one subscriber's usual allocation: rotating through its own addresses does
 * not buy more attempts). An IPv4-mapped IPv6 address is its IPv4 address.
 */
export function addressKey(ip: string): string {
  const address = ip.replace(/%.*$/, '');
  if (!isIPv6(address)) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped && isIPv4(mapped[1] as string)) return mapped[1] as string;
  // an embedded IPv4 tail is the last 32 bits, never part of the first 64
  const [head = '', tail] = address.replace(/:\d+\.\d+\.\d+\.\d+$/, ':0:0').split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

/** The client's address key, from the socket or, through TRUST_PROXY (Express's trust proxy), the proxies' X-Forwarded-For. */
export const clientAddress = (req: Request): string => addressKey(req.ip ?? req.socket.remoteAddress ?? 'unknown');
