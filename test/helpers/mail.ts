/**
 * Reads the mail MailDev caught (scripts/services.sh runs it; MAIL_UI_URL is its web UI and
 * REST API). A message is mapped to the few fields the tests check.
 */
export interface CaughtMail {
  id: string;
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
}

interface MailDevAddress {
  address: string;
  name?: string;
}
interface MailDevEmail {
  id: string;
  subject?: string;
  text?: string;
  html?: string;
  from?: MailDevAddress[];
  to?: MailDevAddress[];
}

const base = (): string => {
  const url = process.env.MAIL_UI_URL;
  if (!url) throw new Error('MAIL_UI_URL is not set (scripts/services.sh writes it to services.env)');
  return url.replace(/\/+$/, '');
};

/** Every message caught so far (GET /api/email). */
export async function caughtMail(): Promise<CaughtMail[]> {
  const res = await fetch(`${base()}/api/email`);
  if (!res.ok) throw new Error(`MailDev answered ${res.status} on /api/email`);
  const emails = (await res.json()) as MailDevEmail[];
  return emails.map((e) => ({
    id: e.id,
    from: e.from?.[0]?.address ?? '',
    to: (e.to ?? []).map((a) => a.address),
    subject: e.subject ?? '',
    text: e.text ?? '',
    html: e.html ?? '',
  }));
}

/** The messages sent to `email`, oldest first. */
export async function mailTo(email: string): Promise<CaughtMail[]> {
  return (await caughtMail()).filter((m) => m.to.includes(email));
}

/** The HTML page MailDev's web UI shows for a message (GET /api/email/:id/html). */
export async function renderedHtml(id: string): Promise<{ status: number; contentType: string | null; body: string }> {
  const res = await fetch(`${base()}/api/email/${encodeURIComponent(id)}/html`);
  return { status: res.status, contentType: res.headers.get('content-type'), body: await res.text() };
}

/**
 * A message's headers as sent (GET /api/email/:id/source, unfolded), names lower-case; MailDev's
 * parsed `headers` leave some out (List-Unsubscribe among them).
 */
export async function mailHeaders(id: string): Promise<Record<string, string>> {
  const res = await fetch(`${base()}/api/email/${encodeURIComponent(id)}/source`);
  if (!res.ok) throw new Error(`MailDev answered ${res.status} on the source of ${id}`);
  const head = (await res.text()).split(/\r?\n\r?\n/)[0] ?? '';
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0) headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  return headers;
}
