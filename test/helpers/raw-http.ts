import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** The body parsed as JSON, or its text when it is not JSON (undefined when empty). */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read whatever the API answered
}

export interface RawRequest {
  method: string;
  /** The request target exactly as sent: a Buffer puts bytes on the wire that fetch would refuse or re-encode. */
  target: string | Buffer;
  headers?: [name: string, value: string | Buffer][];
  body?: string | Buffer;
  /** Send the body with Transfer-Encoding: chunked instead of a Content-Length. */
  chunked?: boolean;
}

const bytes = (v: string | Buffer) => (Buffer.isBuffer(v) ? v : Buffer.from(v, 'latin1'));

function parseResponse(raw: Buffer): RawResponse {
  const split = raw.indexOf('\r\n\r\n');
  if (split < 0) throw new Error(`no HTTP response: ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
  const [statusLine = '', ...lines] = raw.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let payload = raw.subarray(split + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const eol = payload.indexOf('\r\n', at);
      const size = parseInt(payload.subarray(at, eol).toString('latin1'), 16);
      if (!size) break;
      parts.push(payload.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    payload = Buffer.concat(parts);
  }
  const text = payload.toString('utf8');
  let body: unknown = text || undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON: keep the text */
  }
  return { status, headers, body };
}

/**
 * One HTTP/1.1 request written byte for byte on a fresh socket (Connection: close), so
 * malformed targets, header values and bodies reach the server as they are.
 */
export function rawRequest(baseUrl: string, req: RawRequest): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  const body = req.body === undefined ? undefined : bytes(req.body);
  const headers: [string, string | Buffer][] = [['Host', `${hostname}:${port}`], ['Connection', 'close'], ...(req.headers ?? [])];
  if (body !== undefined) headers.push(req.chunked ? ['Transfer-Encoding', 'chunked'] : ['Content-Length', String(body.length)]);
  const head = Buffer.concat([
    Buffer.from(`${req.method} `),
    bytes(req.target),
    Buffer.from(' HTTP/1.1\r\n'),
    ...headers.flatMap(([name, value]) => [Buffer.from(`${name}: `), bytes(value), Buffer.from('\r\n')]),
    Buffer.from('\r\n'),
  ]);
  let payload = body ?? Buffer.alloc(0);
  if (req.chunked && body !== undefined) {
    payload = Buffer.concat([...(body.length ? [Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n')] : []), Buffer.from('0\r\n\r\n')]);
  }
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.on('data', (d: Buffer) => chunks.push(d));
    // the server may close after answering without reading the rest: what it said still counts
    socket.on('error', (err) => (chunks.length ? undefined : reject(err)));
    socket.on('close', () => {
      try {
        resolve(parseResponse(Buffer.concat(chunks)));
      } catch (err) {
        reject(err);
      }
    });
    // write, not end: a half-closed socket makes Node abort the request before it answers
    socket.write(Buffer.concat([head, payload]));
  });
}
