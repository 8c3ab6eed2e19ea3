import { describe, expect, it } from 'vitest';
import { configFromEnv, parseHostPort } from './config.js';

describe('configFromEnv', () => {
  const base = {
    PS_ROLE: 'worker',
    PS_SCHEDULER: '127.0.0.1:9100',
    PS_NUM_SERVERS: '2',
    PS_NUM_WORKERS: '3',
  };
  it('reads a complete environment', () => {
    expect(configFromEnv(base)).toEqual({
      role: 'worker',
      scheduler: { host: '127.0.0.1', port: 9100 },
      numServers: 2,
      numWorkers: 3,
      host: '127.0.0.1',
      port: 0,
    });
    expect(configFromEnv({ ...base, PS_ROLE: 'scheduler' }).port).toBe(9100);
    expect(parseHostPort('X', '[::1]:80')).toEqual({ host: '::1', port: 80 });
  });
  it('names the variable that is wrong', () => {
    expect(() => configFromEnv({ ...base, PS_ROLE: 'boss' })).toThrow(/PS_ERR_CONFIG: PS_ROLE/);
    expect(() => configFromEnv({ ...base, PS_SCHEDULER: 'localhost' })).toThrow(
      /PS_SCHEDULER must be host:port/,
    );
    expect(() => configFromEnv({ ...base, PS_NUM_SERVERS: '0' })).toThrow(/PS_NUM_SERVERS/);
    expect(() => configFromEnv({ ...base, PS_NUM_WORKERS: undefined })).toThrow(/PS_NUM_WORKERS/);
    expect(() => configFromEnv({ ...base, PS_PORT: '70000' })).toThrow(/PS_PORT/);
    expect(() => configFromEnv({ ...base, PS_SECRET: 'too short' })).toThrow(/PS_ERR_CONFIG: PS_SECRET/);
  });
  it('reads the cluster secret from PS_SECRET, and none when it is unset or empty', () => {
    const secret = 'a cluster secret of 32 bytes, ok';
    expect(configFromEnv({ ...base, PS_SECRET: secret }).secret).toBe(secret);
    expect(configFromEnv(base).secret).toBeUndefined();
    expect('secret' in configFromEnv({ ...base, PS_SECRET: '' })).toBe(false);
  });
  it('reads PS_RECOVER and PS_RUN (a scheduler started again to recover a run)', () => {
    const sched = { ...base, PS_ROLE: 'scheduler' };
    expect(configFromEnv({ ...sched, PS_RECOVER: '1', PS_RUN: 'mo9x-1a2b3c4d' })).toMatchObject({
      recover: true,
      run: 'mo9x-1a2b3c4d',
    });
    expect(configFromEnv({ ...sched, PS_RECOVER: 'false' }).recover).toBeUndefined();
    expect('run' in configFromEnv({ ...sched, PS_RUN: '' })).toBe(false);
    expect(() => configFromEnv({ ...sched, PS_RECOVER: 'yes' })).toThrow(/PS_ERR_CONFIG: PS_RECOVER/);
    expect(() => configFromEnv({ ...sched, PS_RUN: 'a run/with slashes' })).toThrow(/PS_ERR_CONFIG: PS_RUN/);
  });
});
