import { startStack, type Stack } from '../helpers/stack';

/**
 * Review: a support person's name is shown in the CLI's `list` (a terminal), the Web UI's
 * current details (markdown: "**Resumed by support (<name>):**"), the workflow memo and the
 * order history. api/schemas/support.ts accepts any text (only NUL and lone surrogates are
 * refused, by the edge), so a name with terminal escapes, or line breaks is
 * stored and replayed to every reader — unlike every other free text that names something
 * (api/schemas/catalog.ts plainText refuses control characters).
 */
describe('review: a support identity name with control characters', () => {
  let stack: Stack;
  const admin = { Authorization: 'Bearer dev-admin-token' };
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it.each([
    ['a terminal escape', 'Eve\u001b[2J\u001b[Halice\tspt_x\tadmin'],
    ['a line break (a fake second row in `support-token list`)', 'Eve\nspt_fake\tosp_abcd…\tAlice'],
  ])('%s is a 400, not stored', async (_what, name) => {
    const res = await stack.http('POST', '/admin/support-tokens', { headers: admin, body: { name, roles: ['support'] } });
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe('invalid_request');
  });
});
