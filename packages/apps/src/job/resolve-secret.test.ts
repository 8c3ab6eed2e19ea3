import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPsError, PsErrorCode } from '@ps/core';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveSecret } from './resolve-secret.js';

const dir = mkdtempSync(join(tmpdir(), 'ps-secret-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string, mode = 0o600) => {
  const path = join(dir, name);
  writeFileSync(path, text, { mode });
  return path;
};
const SECRET = 'sixteen bytes at least, surely';

describe('resolveSecret', () => {
  it('reads --secret-file, then PS_SECRET_FILE, then PS_SECRET, dropping one trailing newline', () => {
    const a = file('a', `${SECRET}\n`);
    const b = file('b', `${SECRET}-b\r\n`);
    expect(resolveSecret(a, { PS_SECRET_FILE: b, PS_SECRET: 'ignored, ignored, ignored' })).toEqual({
      secret: SECRET,
      file: a,
    });
    expect(resolveSecret(undefined, { PS_SECRET_FILE: b, PS_SECRET: 'ignored' }).secret).toBe(`${SECRET}-b`);
    expect(resolveSecret(undefined, { PS_SECRET: SECRET })).toEqual({ secret: SECRET });
    expect(resolveSecret(undefined, {})).toEqual({});
    expect(resolveSecret(undefined, { PS_SECRET: '', PS_SECRET_FILE: '' })).toEqual({});
  });

  it('refuses a short secret and a file it cannot read with PS_ERR_CONFIG, naming the file', () => {
    const short = file('short', 'too short\n');
    const attempt = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e;
      }
      return undefined;
    };
    const e1 = attempt(() => resolveSecret(short, {}));
    expect(isPsError(e1, PsErrorCode.CONFIG)).toBe(true);
    expect((e1 as Error).message).toMatch(/the secret file .*short: the cluster secret must be/);
    const e2 = attempt(() => resolveSecret(join(dir, 'missing'), {}));
    expect(isPsError(e2, PsErrorCode.CONFIG)).toBe(true);
    expect(
      isPsError(
        attempt(() => resolveSecret(undefined, { PS_SECRET: 'short' })),
        PsErrorCode.CONFIG,
      ),
    ).toBe(true);
  });

  it('warns when the file is readable by other users', () => {
    const loose = file('loose', SECRET, 0o644);
    expect(resolveSecret(loose, {}).warning).toMatch(/readable by other users; chmod 600/);
    expect(resolveSecret(file('tight', SECRET), {}).warning).toBeUndefined();
  });
});
