import { z } from 'zod';
import { CARD_NUMBER_MESSAGE, containsCardNumber } from '../../domain/card-number';

/**
 * Every free-text field the API takes refuses a card number (domain/card-number.ts): a 400
 * invalid_request naming the field. Applied before `.meta()`, so the OpenAPI metadata stays.
 */
export const noCardNumber = <S extends z.ZodType<string | undefined>>(schema: S) =>
  schema.refine((s) => s === undefined || !containsCardNumber(s), CARD_NUMBER_MESSAGE);

/** An email address (254 characters at most) that is not a card number in disguise. */
export const emailSchema = () => noCardNumber(z.string().email().max(254));
