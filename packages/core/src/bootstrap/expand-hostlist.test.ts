import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PsErrorCode } from '../errors.js';
import { expandHostlist, MAX_HOSTLIST_HOSTS } from './expand-hostlist.js';

const code = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};

describe('expandHostlist', () => {
  it('expands single names, ranges, lists and zero padding in order', () => {
    expect(expandHostlist('node07')).toEqual(['node07']);
    expect(expandHostlist('node[01-03,07],gpu7')).toEqual(['node01', 'node02', 'node03', 'node07', 'gpu7']);
    expect(expandHostlist('n[8-10]')).toEqual(['n8', 'n9', 'n10']);
    expect(expandHostlist('n[08-10]')).toEqual(['n08', 'n09', 'n10']);
    expect(expandHostlist('rack[1-2]-n[1-2]')).toEqual(['rack1-n1', 'rack1-n2', 'rack2-n1', 'rack2-n2']);
    expect(expandHostlist(' a,b[3],c ')).toEqual(['a', 'b3', 'c']);
  });

  it.each([
    [''],
    ['a,,b'],
    ['n[1-3'],
    ['n1-3]'],
    ['n[[1-2]]'],
    ['n[3-1]'],
    ['n[a-b]'],
    ['n[1-]'],
    [`n[0-${MAX_HOSTLIST_HOSTS}]`],
    ['a[0-999]b[0-999]'],
  ])('refuses %j with PS_ERR_CLUSTER_ENV naming the variable', (list) => {
    expect(code(() => expandHostlist(list, 'SLURM_STEP_NODELIST'))).toBe(PsErrorCode.CLUSTER_ENV);
    expect(() => expandHostlist(list, 'SLURM_STEP_NODELIST')).toThrow(/SLURM_STEP_NODELIST/);
  });

  // A host list written from known hosts expands back to exactly them.
  const group = fc
    .array(
      fc.record({
        lo: fc.integer({ min: 0, max: 120 }),
        n: fc.integer({ min: 0, max: 4 }),
        pad: fc.integer({ min: 1, max: 4 }),
      }),
      { minLength: 1, maxLength: 3 },
    )
    .map((parts) => ({
      text: parts
        .map(({ lo, n, pad }) => {
          const a = String(lo).padStart(pad, '0');
          return n === 0 ? a : `${a}-${lo + n}`;
        })
        .join(','),
      values: parts.flatMap(({ lo, n, pad }) =>
        Array.from({ length: n + 1 }, (_, i) => String(lo + i).padStart(pad, '0')),
      ),
    }));
  const prefix = fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/);
  const item = fc
    .tuple(
      prefix,
      fc.option(group, { nil: undefined }),
      fc.option(fc.tuple(fc.stringMatching(/^-[a-z]{1,3}$/), group), { nil: undefined }),
    )
    .map(([p, g1, second]) => {
      let text = p;
      let names = [p];
      if (g1) {
        text += `[${g1.text}]`;
        names = names.flatMap((n) => g1.values.map((v) => n + v));
        if (second) {
          const [p2, g2] = second;
          text += `${p2}[${g2.text}]`;
          names = names.flatMap((n) => g2.values.map((v) => n + p2 + v));
        }
      }
      return { text, names };
    });

  it('expands any list written from known names back to exactly those names (property)', () => {
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 5 }), (items) => {
        expect(expandHostlist(items.map((i) => i.text).join(','))).toEqual(items.flatMap((i) => i.names));
      }),
      { numRuns: 300 },
    );
  });

  it('never throws anything but PS_ERR_CLUSTER_ENV on arbitrary text (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 30, unit: fc.constantFrom('a', '1', '-', ',', '[', ']', '0', '9') }),
        (s) => {
          const c = code(() => expandHostlist(s));
          expect(c === undefined || c === PsErrorCode.CLUSTER_ENV).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
