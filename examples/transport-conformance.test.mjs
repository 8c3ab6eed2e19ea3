// A transport's conformance suite, run by vitest: `npx vitest run transport-conformance.test.mjs`.
import { runTransportConformance } from '@ps/core/testing';
import { tcp } from '@ps/transport-tcp';
import { afterEach, describe, expect, it } from 'vitest';

runTransportConformance(
  { describe, it, expect, afterEach },
  { name: 'tcp', create: () => tcp(), secure: (secret) => tcp({ secret }) },
);
