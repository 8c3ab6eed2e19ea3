import { describe, expect, it } from 'vitest';
import { roleExecArgv } from './local-cluster.js';

describe('roleExecArgv', () => {
  it("passes the launcher's Node flags to role processes, but the inspector's", () => {
    expect(
      roleExecArgv([
        '--cpu-prof',
        '--cpu-prof-dir=profiles',
        '--inspect=9229',
        '--inspect-brk',
        '--inspect-port=0',
        '--inspect-wait',
        '--max-old-space-size=512',
        '--inspector-fake',
      ]),
    ).toEqual(['--cpu-prof', '--cpu-prof-dir=profiles', '--max-old-space-size=512', '--inspector-fake']);
  });
});
