import type { z } from 'zod';

/**
 * How a zod schema is described in the OpenAPI document (api/openapi), for the checks
 * zod's JSON Schema output cannot see (refinements, transforms): metadata only, the
 * validation itself is untouched. Patterns are written for ECMA and Python regexes alike.
 */

/** Metadata key: describe the schema by this JSON Schema instead of zod's output. */
export const DOCUMENT_AS = 'x-document-as';
/** Metadata key: a blank value (whitespace only, as String.trim sees it) counts as absent. */
export const BLANK_IS_ABSENT = 'x-blank-is-absent';

/** The whitespace String.prototype.trim removes, as a character-class body. */
export const TRIMMED = '\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';
/** C0 controls and DEL (plainText refuses them). */
export const C0_AND_DEL = '\\u0000-\\u001f\\u007f';

/** A string of no control character with at least one character trim keeps. */
export const NOT_BLANK_PLAIN = `^[^${C0_AND_DEL}]*[^${C0_AND_DEL}${TRIMMED}][^${C0_AND_DEL}]*$`;
/** A string without control characters. */
export const PLAIN = `^[^${C0_AND_DEL}]*$`;
/** A string whose trimmed text is 1 to `max` characters (NUL is refused at the edge). */
export const trimmedLength = (max: number) =>
  `^[${TRIMMED}]*[^\\u0000${TRIMMED}](?:[^\\u0000]{0,${max - 2}}[^\\u0000${TRIMMED}])?[${TRIMMED}]*$`;

/** ISO 4217 codes as the runtime's ICU knows them (what the currency checks accept). */
export const ISO_CURRENCIES: readonly string[] = Intl.supportedValuesOf('currency');

export const documentAs = <S extends z.ZodType>(schema: S, jsonSchema: Record<string, unknown>): S =>
  schema.meta({ [DOCUMENT_AS]: jsonSchema });
