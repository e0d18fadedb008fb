/**
 * Support tokens from the command line (the first admin token, or when the API is down):
 *
 *   npm run support-token -- create --name alice [--email alice@example.com] --roles support,operations
 *   npm run support-token -- list
 *   npm run support-token -- revoke <id>
 *
 * `create` prints the token once (stdout, alone on its line); it is stored only as a hash.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { loadConfig } from '../config';
import { createDatabases } from '../db/client';
import { SUPPORT_ROLES } from '../domain/support';
import { createSupportToken, listSupportIdentities, revokeSupportTokenById } from '../usecases/support-tokens';

const createArgs = z.object({
  // the same rule as the API's: no control characters (the name is shown in this CLI's list)
  name: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'must not contain control characters'),
  email: z.string().email().max(254).optional(),
  roles: z.array(z.enum(SUPPORT_ROLES)).min(1),
});

export async function main(argv: string[], out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, email: { type: 'string' }, roles: { type: 'string' } },
  });
  const [command, id] = positionals;
  const dbs = createDatabases(loadConfig());
  try {
    if (command === 'create') {
      const parsed = createArgs.safeParse({ ...values, roles: (values.roles ?? '').split(',').filter(Boolean) });
      if (!parsed.success) throw new Error(`create needs --name and --roles (any of ${SUPPORT_ROLES.join(', ')}): ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      const createdBy = { id: 'cli', name: `cli (${os.userInfo().username})` };
      const { token, identity } = await createSupportToken({ dbs }, { ...parsed.data, createdBy });
      process.stderr.write(`created ${identity.id} for ${identity.name} with roles ${identity.roles.join(', ')}; the token is shown once:\n`);
      out(token);
    } else if (command === 'list') {
      for (const t of await listSupportIdentities({ dbs })) {
        out(
          [t.id, t.tokenHint + '…', t.name, t.email ?? '-', t.roles.join(','), t.revokedAt ? `revoked ${t.revokedAt.toISOString()}` : 'live', t.lastUsedAt ? `last used ${t.lastUsedAt.toISOString()}` : 'never used'].join('\t'),
        );
      }
    } else if (command === 'revoke' && id) {
      const result = await revokeSupportTokenById({ dbs }, id);
      if (result.kind === 'rejected') throw new Error(result.message);
      out(`revoked ${result.identity.id} (${result.identity.name}) at ${result.identity.revokedAt?.toISOString()}`);
    } else {
      throw new Error('usage: support-token create --name <name> [--email <email>] --roles <support,operations,admin> | list | revoke <id>');
    }
  } finally {
    await dbs.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
