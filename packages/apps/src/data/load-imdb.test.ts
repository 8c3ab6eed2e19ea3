import { describe, expect, it } from 'vitest';
import { loadImdb } from './load-imdb.js';

describe('loadImdb', () => {
  it('loads 50,000 reviews, 25,000 of them positive', async () => {
    const raw = await loadImdb();
    expect(raw.name).toBe('imdb');
    expect(raw.texts.length).toBe(50_000);
    expect(raw.labels.length).toBe(50_000);
    expect(raw.labels.reduce((a, y) => a + y, 0)).toBe(25_000);
    expect(raw.labels.every((y) => y === 0 || y === 1)).toBe(true);
    expect(raw.texts.every((t) => typeof t === 'string' && t.length > 0)).toBe(true);
    expect(raw.texts[0]).toMatch(/^Once again Mr\. Costner/);
    expect(raw.labels[0]).toBe(0);
  });
});
