import { isUtf8 } from 'node:buffer';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import express, { type RequestHandler } from 'express';
import { AppError, errorBody, type ErrorCode } from './errors';

/**
 * The edge's checks on the bytes of a request, before any route sees it (shared/API.md:
 * malformed input anywhere is a 4xx with a code, never a 5xx). A route can then trust that
 * its path parameters and query values decode, are UTF-8 and hold no control characters,
 * and that a body it reads was JSON in UTF-8.
 */

/** C0 controls, DEL and C1 controls: no id, sku, token or search term contains one. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** JSON media types: application/json and the structured +json suffix (RFC 6839). */
const JSON_TYPES = ['application/json', 'application/*+json'];
const BODY_LIMIT = '64kb';

const invalid = (field: string, message: string) => new AppError('invalid_request', message, [{ field, message }]);

/** decodeURIComponent, or undefined when the escapes are malformed or not UTF-8. */
function decoded(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/**
 * Rejects a request target whose path or query does not percent-decode to UTF-8 text
 * without control characters. It runs before routing, so every route answers the same 400,
 * unknown ones included, and the router never meets a parameter it cannot decode (Express
 * would throw a URIError there).
 */
export const checkRequestTarget: RequestHandler = (req, _res, next) => {
  const target = req.originalUrl;
  const q = target.indexOf('?');
  const path = decoded(q < 0 ? target : target.slice(0, q));
  if (path === undefined) return next(invalid('path', 'the path has a malformed percent-encoding or bytes that are not UTF-8'));
  if (CONTROL.test(path)) return next(invalid('path', 'the path contains control characters'));
  if (q < 0) return next();
  for (const part of target.slice(q + 1).split(/[&=]/)) {
    const value = decoded(part.replace(/\+/g, ' '));
    if (value === undefined) return next(invalid('query', 'the query string has a malformed percent-encoding or bytes that are not UTF-8'));
    if (CONTROL.test(value)) return next(invalid('query', 'the query string contains control characters'));
  }
  next();
};

const unsupported = (message: string) => new AppError('unsupported_media_type', message);

/**
 * A non-empty body must be JSON in UTF-8 (RFC 8259 §8.1), whatever the method: 415 for
 * any other content type or charset, rather than a body silently ignored. An empty body
 * goes through with any content type (POST /admin/orders/:id/retry takes none). A chunked
 * body is empty or not only once read, so for a non-JSON type the first chunk decides.
 */
export const requireJsonBodies: RequestHandler = (req, _res, next) => {
  const chunked = req.headers['transfer-encoding'] !== undefined;
  const length = Number(req.headers['content-length'] ?? 0);
  if (!chunked && length === 0) return next();

  if (req.is(JSON_TYPES)) {
    const charset = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s"]*))/i.exec(req.headers['content-type'] ?? '');
    if (charset && !/^utf-?8$/i.test(charset[1] ?? charset[2] ?? '')) return next(unsupported('JSON bodies must be UTF-8'));
    return next();
  }
  const refuse = () => next(unsupported('the request body must be JSON (Content-Type: application/json)'));
  if (!chunked) return refuse();

  const settle = (hasBytes: boolean) => {
    req.off('data', onData).off('end', onEnd).off('error', onError);
    if (!hasBytes) return next();
    req.resume(); // drain the rest so the connection stays usable
    refuse();
  };
  const onData = () => settle(true);
  const onEnd = () => settle(false);
  const onError = (err: Error) => {
    req.off('data', onData).off('end', onEnd).off('error', onError);
    next(invalid('(body)', `the request body could not be read (${err.message})`));
  };
  req.on('data', onData).on('end', onEnd).on('error', onError);
};

/** The dotted path of the first string (key or value) PostgreSQL could not store as text. */
function unstorableString(value: unknown, path: string[] = []): { field: string; message: string } | undefined {
  const bad = (s: string) => (s.includes('\u0000') ? 'contains a NUL character' : /\p{Cs}/u.test(s) ? 'contains an unpaired UTF-16 surrogate' : undefined);
  const field = () => path.join('.') || '(body)';
  if (typeof value === 'string') {
    const message = bad(value);
    return message ? { field: field(), message } : undefined;
  }
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = unstorableString(item, [...path, String(i)]);
      if (found) return found;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const keyProblem = bad(key);
      if (keyProblem) return { field: field(), message: `a key ${keyProblem}` };
      const found = unstorableString(item, [...path, key]);
      if (found) return found;
    }
  }
  return undefined;
}

interface BodyParserError {
  type?: string;
  status?: number;
  message?: string;
}

/** body-parser's client-side failures (its 4xx) as the contract's codes; its 5xx stay ours. */
function bodyError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  const { type, status } = (err ?? {}) as BodyParserError;
  if (typeof status !== 'number' || status < 400 || status >= 500) return err;
  if (type === 'entity.too.large') return new AppError('payload_too_large', 'request body is too large');
  if (type === 'charset.unsupported' || type === 'encoding.unsupported') return unsupported('unsupported body encoding');
  if (type === 'entity.parse.failed') return invalid('(body)', 'request body is not valid JSON');
  return invalid('(body)', 'the request body could not be read (bad Content-Length, compression or an aborted upload)');
}

/**
 * JSON bodies: the bytes must be UTF-8 (body-parser would replace bad bytes with U+FFFD
 * and carry on), and no string may hold a NUL or a lone surrogate, which PostgreSQL cannot
 * store or would store altered. Every failure of reading the body is a 4xx with a code.
 */
export function jsonBody(limit: string = BODY_LIMIT): RequestHandler {
  const parser = express.json({
    limit,
    strict: true,
    type: JSON_TYPES,
    verify: (_req, _res, buf) => {
      if (!isUtf8(buf)) throw invalid('(body)', 'the request body is not valid UTF-8');
    },
  });
  return (req, res, next) => {
    parser(req, res, (err?: unknown) => {
      if (err) return next(bodyError(err));
      const found = unstorableString(req.body);
      if (found) return next(new AppError('invalid_request', `invalid request body: ${found.field} ${found.message}`, [found]));
      next();
    });
  };
}

/** What the HTTP parser refused, by the part of the request its error code names. */
function parserErrorAnswer(code: string | undefined): { status: number; code: ErrorCode; field: string; message: string } {
  if (code === 'HPE_HEADER_OVERFLOW') return { status: 431, code: 'headers_too_large', field: 'headers', message: 'the request headers are too large' };
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, code: 'request_timeout', field: 'request', message: 'the request took too long to arrive' };
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return { status: 413, code: 'payload_too_large', field: 'body', message: 'the chunk extensions are too large' };
  const part = /URL/.test(code ?? '')
    ? 'path'
    : /HEADER|TOKEN|CONTENT_LENGTH|TRANSFER_ENCODING/.test(code ?? '')
      ? 'headers'
      : /CHUNK|BODY/.test(code ?? '')
        ? 'body'
        : /METHOD/.test(code ?? '')
          ? 'method'
          : 'request';
  return { status: 400, code: 'invalid_request', field: part, message: `the request could not be parsed as HTTP/1.1 (${part})` };
}

/**
 * Requests Node's HTTP parser refuses (raw control or non-ASCII bytes in the target, a
 * control character in a header value, a malformed header name, oversized headers) never
 * reach Express: Node answers a bare status line. This answers them in the contract's
 * error shape instead, then closes the connection, as Node's default does.
 */
export function answerUnparsableRequests(server: Server): Server {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex & { bytesWritten?: number }) => {
    if (err.code === 'ECONNRESET' || !socket.writable || (socket.bytesWritten ?? 0) > 0) {
      socket.destroy();
      return;
    }
    const answer = parserErrorAnswer(err.code);
    const body = JSON.stringify(errorBody(new AppError(answer.code, answer.message, [{ field: answer.field, message: answer.message }], answer.status)));
    const reason = answer.status === 431 ? 'Request Header Fields Too Large' : answer.status === 408 ? 'Request Timeout' : answer.status === 413 ? 'Payload Too Large' : 'Bad Request';
    socket.end(
      `HTTP/1.1 ${answer.status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  return server;
}
