import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPsError, PsErrorCode } from '@ps/core';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveTls } from './resolve-tls.js';

const dir = mkdtempSync(join(tmpdir(), 'ps-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
};
// Not real keys: resolveTls reads and hands over PEM text; node:tls parses it later.
const CERT = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----\n';

const configError = (f: () => unknown, re: RegExp) => {
  let caught: unknown;
  try {
    f();
  } catch (err) {
    caught = err;
  }
  expect(isPsError(caught, PsErrorCode.CONFIG)).toBe(true);
  expect((caught as Error).message).toMatch(re);
};

describe('resolveTls', () => {
  it('reads the flags first, then PS_TLS_CERT, PS_TLS_KEY and PS_TLS_CA; none means plain', () => {
    const cert = file('cert.pem', CERT);
    const key = file('key.pem', KEY);
    const ca = file('ca.pem', CERT);
    expect(resolveTls({ cert, key }, { PS_TLS_CA: ca })).toEqual({
      tls: { cert: CERT, key: KEY, ca: CERT },
      files: { cert, key, ca },
    });
    expect(resolveTls({}, { PS_TLS_CERT: cert, PS_TLS_KEY: key })).toEqual({
      tls: { cert: CERT, key: KEY },
      files: { cert, key },
    });
    expect(resolveTls({}, {})).toEqual({});
    expect(resolveTls({}, { PS_TLS_CERT: '', PS_TLS_KEY: '', PS_TLS_CA: '' })).toEqual({});
  });

  it('refuses half a setting, a missing file and a file that is not PEM, with PS_ERR_CONFIG', () => {
    const cert = file('c.pem', CERT);
    configError(() => resolveTls({ cert }, {}), /needs both a certificate and its key.*only a certificate/);
    configError(() => resolveTls({ ca: cert }, {}), /only a CA/);
    configError(() => resolveTls({ cert, key: join(dir, 'missing.pem') }, {}), /cannot read the TLS key/);
    const text = file('plain.txt', 'not a key\n');
    configError(() => resolveTls({ cert, key: text }, {}), /the TLS key .* is not PEM/);
  });
});
