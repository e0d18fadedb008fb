import fs from 'node:fs';
import path from 'node:path';

const cache = new Map<string, string>();

function load(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = fs.readFileSync(path.join(__dirname, name), 'utf8');
    cache.set(name, text);
  }
  return text;
}

/** The one HTML escaper of the templates and the fragments activities build for them. */
export const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** Fills `{{name}}` placeholders; values are HTML-escaped in .html templates. `{{{name}}}` is raw. */
export function render(template: string, vars: Record<string, string>): string {
  const html = template.endsWith('.html');
  return load(template)
    .replace(/\{\{\{(\w+)\}\}\}/g, (_, k: string) => vars[k] ?? '')
    .replace(/\{\{(\w+)\}\}/g, (_, k: string) => (html ? escapeHtml(vars[k] ?? '') : (vars[k] ?? '')));
}

/** Minor units to a display string without floating point: 12345 USD → "123.45 USD". */
export { formatMoney } from '../../domain/money';
