import { z } from 'zod';
import { BLANK_IS_ABSENT, DOCUMENT_AS, TRIMMED } from '../schemas/json-schema';

type Json = Record<string, unknown>;

/** No C0/C1 control or DEL: what the edge lets through a path or a query (request-guards.ts). */
const TARGET_TEXT = '^[^\\u0000-\\u001f\\u007f-\\u009f]*$';
/** NUL: refused in any JSON string at the edge (PostgreSQL cannot store it). */
const NO_NUL = '^[^\\u0000]*$';

/** zod 4's JSON Schema of what a request may send (io: input), with the metadata of api/schemas/json-schema.ts applied. */
export function inputSchema(schema: z.ZodType): Json {
  const json = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
    override: ({ jsonSchema }) => {
      const js = jsonSchema as Json;
      const replacement = js[DOCUMENT_AS] as Json | undefined;
      const blank = js[BLANK_IS_ABSENT] === true;
      delete js[DOCUMENT_AS];
      delete js[BLANK_IS_ABSENT];
      // zod's e-mail check is its pattern, which zod also emits: a `format` would judge by other rules
      if (js.format === 'email' && js.pattern) delete js.format;
      if (replacement) {
        for (const k of Object.keys(js)) delete js[k];
        Object.assign(js, replacement);
      }
      if (blank) {
        const inner = { ...js };
        for (const k of Object.keys(js)) delete js[k];
        js.anyOf = [{ type: 'string', pattern: `^[${TRIMMED}]*$`, description: 'blank: the same as absent' }, inner];
      }
    },
  }) as Json;
  delete json.$schema;
  return json;
}

/** Every string in a JSON body excludes NUL, keys included (the edge refuses it). */
export function bodySchema(schema: z.ZodType): Json {
  return walkStrings(inputSchema(schema), NO_NUL);
}

/** A path or query value: also no control character (the edge refuses them). */
export function targetSchema(schema: z.ZodType): Json {
  return walkStrings(inputSchema(schema), TARGET_TEXT);
}

function walkStrings(node: unknown, pattern: string): Json {
  if (Array.isArray(node)) return node.map((n) => walkStrings(n, pattern)) as unknown as Json;
  if (node === null || typeof node !== 'object') return node as Json;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) out[k] = k === 'enum' || k === 'const' || k === 'default' ? v : walkStrings(v, pattern);
  if (out.type === 'string' && out.enum === undefined) {
    const own = out.pattern as string | undefined;
    if (own === undefined) out.pattern = pattern;
    else if (mayHoldControls(own) && !(pattern === NO_NUL && own.includes('\\u0000'))) return { allOf: [out, { pattern }] };
  }
  if (out.type === 'object' && out.additionalProperties !== false && out.propertyNames === undefined) out.propertyNames = { pattern };
  return out;
}

/** A pattern made only of listed characters (ids, skus, e-mail) holds no control character. */
const mayHoldControls = (p: string) => /\[\^|(^|[^\\])\.|\\[tnvfr]/.test(p);

