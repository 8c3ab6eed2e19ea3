/** The parts of a test framework the suite needs (vitest's or jest's `describe`, `it`, `expect`). */
export interface TestApi {
  describe: (name: string, fn: () => void) => void;
  it: (name: string, fn: () => Promise<void>, timeoutMs?: number) => void;
  // biome-ignore lint/suspicious/noExplicitAny: matchers are the framework's own
  expect: (value: unknown) => any;
  afterEach: (fn: () => Promise<void>) => void;
}
