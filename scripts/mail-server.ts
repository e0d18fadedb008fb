/**
 * A real SMTP server for dev and tests: accepts every message on SMTP_PORT, keeps the
 * parsed messages in memory, and shows them on MAIL_UI_PORT:
 *   GET /            an HTML list of caught mail (dev mode's inbox)
 *   GET /messages    JSON [{ id, from, to, subject, text, html, date }]
 *   DELETE /messages clears the list
 */
import http from 'node:http';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type AddressObject } from 'mailparser';

interface CaughtMessage {
  id: number;
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  date: string;
}

const smtpPort = Number(process.env.SMTP_PORT ?? 1025);
const uiPort = Number(process.env.MAIL_UI_PORT ?? 1080);
// Loopback unless told otherwise (docker-compose binds it to the container's network).
const bind = process.env.MAIL_BIND ?? '127.0.0.1';
const messages: CaughtMessage[] = [];
let nextId = 1;

function addresses(a: AddressObject | AddressObject[] | undefined): string[] {
  const list = Array.isArray(a) ? a : a ? [a] : [];
  return list.flatMap((o) => o.value.map((v) => v.address ?? '')).filter(Boolean);
}

const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onData(stream, _session, callback) {
    simpleParser(stream)
      .then((mail) => {
        messages.push({
          id: nextId++,
          from: addresses(mail.from)[0] ?? '',
          to: addresses(mail.to),
          subject: mail.subject ?? '',
          text: mail.text ?? '',
          html: typeof mail.html === 'string' ? mail.html : '',
          date: (mail.date ?? new Date()).toISOString(),
        });
        callback();
      })
      .catch((err: Error) => callback(err));
  },
});

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

const ui = http.createServer((req, res) => {
  if (req.url === '/messages' && req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(messages));
  } else if (req.url === '/messages' && req.method === 'DELETE') {
    messages.length = 0;
    res.writeHead(204).end();
  } else if (req.url === '/' && req.method === 'GET') {
    const rows = messages
      .slice()
      .reverse()
      .map((m) => `<li><b>${escape(m.subject)}</b> to ${escape(m.to.join(', '))} at ${m.date}<pre>${escape(m.text)}</pre></li>`)
      .join('');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>Orderly mail</title><h1>Caught mail (${messages.length})</h1><ul>${rows}</ul>`);
  } else {
    res.writeHead(404).end();
  }
});

smtp.listen(smtpPort, bind, () => {
  ui.listen(uiPort, bind, () => {
    process.stdout.write(`smtp on ${bind}:${smtpPort}, inbox on http://${bind}:${uiPort}\n`);
  });
});

const stop = () => smtp.close(() => ui.close(() => process.exit(0)));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
