import { describe, expect, it } from 'vitest';
import { loadSpamAssassin } from './load-spam-assassin.js';

describe('loadSpamAssassin', () => {
  it('loads 6,046 e-mails, 1,896 of them spam (~31%)', async () => {
    const raw = await loadSpamAssassin();
    expect(raw.name).toBe('spam');
    expect(raw.texts.length).toBe(6046);
    expect(raw.labels.length).toBe(6046);
    const spam = raw.labels.reduce((a, y) => a + y, 0);
    expect(spam).toBe(1896);
    expect(spam / raw.labels.length).toBeCloseTo(0.3136, 3);
    expect(raw.labels.every((y) => y === 0 || y === 1)).toBe(true);
    // the package lists the ham groups first, then spam-1 and spam-2
    expect(raw.labels[0]).toBe(0);
    expect(raw.labels[6045]).toBe(1);
  });

  it('keeps the subject and the body by default, and all or no headers on request', async () => {
    const [subject, all, none] = await Promise.all([
      loadSpamAssassin(),
      loadSpamAssassin({ headers: 'all' }),
      loadSpamAssassin({ headers: 'none' }),
    ]);
    const first = all.texts[0]!;
    expect(first.startsWith('From exmh-workers-admin@redhat.com')).toBe(true);
    expect(first).toMatch(/^Subject: /m);
    const body = first.slice(first.indexOf('\n\n') + 2);
    expect(none.texts[0]).toBe(body);
    expect(none.texts[0]).not.toMatch(/^Return-Path:/m);
    const subjectLine = /^Subject: (.*)$/m.exec(first)![1]!.trim();
    expect(subject.texts[0]).toBe(`${subjectLine}\n\n${body}`);
    expect(subject.texts.every((t, i) => t.length <= all.texts[i]!.length)).toBe(true);
  });
});
