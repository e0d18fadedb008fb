import type { z } from 'zod';
import { AppError } from './errors';

function fieldErrors(error: z.ZodError) {
  return error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message }));
}

/** Parses `input` with `schema`, or throws a 400 invalid_request listing the field errors. */
export function parse<S extends z.ZodType>(schema: S, input: unknown, what = 'request'): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new AppError('invalid_request', `invalid ${what}`, fieldErrors(result.error));
  return result.data;
}
