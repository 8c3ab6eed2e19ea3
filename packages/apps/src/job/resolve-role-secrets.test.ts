import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPsError, PsErrorCode } from '@ps/core';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveRoleSecrets, roleSecretEnv, roleSecretValues } from './resolve-role-secrets.js';

const dir = mkdtempSync(join(tmpdir(), 'ps-role-secret-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string, mode = 0o600) => {
  const path = join(dir, name);
  writeFileSync(path, text, { mode });
  return path;
};
const S = 'the servers secret, 16+ bytes';
const W = 'the workers secret, 16+ bytes';

const attempt = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('did not throw');
};

describe('resolveRoleSecrets', () => {
  it('reads the flags, then the *_FILE variables, then the values; none given: undefined', () => {
    const s = file('s', `${S}\n`);
    const w = file('w', `${W}\n`);
    expect(
      resolveRoleSecrets({ serverFile: s, workerFile: w }, { PS_SERVER_SECRET: 'ignored, ignored, ignored' }),
    ).toEqual({ server: S, worker: W, serverFile: s, workerFile: w, warnings: [] });
    expect(resolveRoleSecrets({}, { PS_WORKER_SECRET_FILE: w })).toEqual({
      worker: W,
      workerFile: w,
      warnings: [],
    });
    expect(resolveRoleSecrets({}, { PS_SERVER_SECRET: S, PS_WORKER_SECRET: W })).toEqual({
      server: S,
      worker: W,
      warnings: [],
    });
    expect(resolveRoleSecrets({}, { PS_SECRET: S })).toBeUndefined();
    const loose = file('loose', W, 0o644);
    expect(resolveRoleSecrets({ workerFile: loose }, {})?.warnings).toEqual([
      `${loose} is readable by other users; chmod 600 it`,
    ]);
  });

  it('refuses a single secret beside them, two equal secrets, a short one, with PS_ERR_CONFIG', () => {
    const s = file('s2', S);
    for (const [flags, env] of [
      [{ serverFile: s, secretFile: s }, {}],
      [{ serverFile: s }, { PS_SECRET: W }],
      [{}, { PS_SERVER_SECRET: S, PS_SECRET_FILE: s }],
    ] as const) {
      const e = attempt(() => resolveRoleSecrets(flags, env));
      expect(isPsError(e, PsErrorCode.CONFIG)).toBe(true);
      expect((e as Error).message).toMatch(/either one cluster secret .* or per-role secrets .* not both/);
    }
    const same = attempt(() => resolveRoleSecrets({}, { PS_SERVER_SECRET: S, PS_WORKER_SECRET: S }));
    expect((same as Error).message).toMatch(/secrets are the same: make two/);
    const short = attempt(() => resolveRoleSecrets({ workerFile: file('short', 'short') }, {}));
    expect(isPsError(short, PsErrorCode.CONFIG)).toBe(true);
    expect((short as Error).message).toMatch(/the secret file .*short: the cluster secret must be/);
  });

  it("gives a worker process the workers' secret only; files by path, else values", () => {
    const r = { server: S, worker: W, serverFile: '/s', workerFile: '/w', warnings: [] };
    expect(roleSecretEnv(r, 'worker')).toEqual({ PS_WORKER_SECRET_FILE: '/w' });
    expect(roleSecretEnv(r, 'server')).toEqual({ PS_WORKER_SECRET_FILE: '/w', PS_SERVER_SECRET_FILE: '/s' });
    const v = { server: S, worker: W, warnings: [] };
    expect(roleSecretEnv(v, 'scheduler')).toEqual({ PS_WORKER_SECRET: W, PS_SERVER_SECRET: S });
    expect(roleSecretEnv(v, 'worker')).toEqual({ PS_WORKER_SECRET: W });
    expect(roleSecretValues(r)).toEqual({ server: S, worker: W });
  });
});
