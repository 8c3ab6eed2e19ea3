// The JobSet API (jobset.x-k8s.io/v1alpha2) as a JSON schema, for tests: the fields `pskv k8s`
// writes, transcribed from the JobSet CRD's openAPIV3Schema (kubernetes-sigs/jobset,
// config/components/crd/bases/jobset.x-k8s.io_jobsets.yaml: types, enums, required fields), made
// strict (no unknown field: a misspelt one would be pruned by the API server without a word). No
// npm package ships the JobSet CRD's schema; each replicated job's `template.spec` is a batch/v1
// JobSpec, checked against Kubernetes' own schema by the `kubernetes-models` package instead.
const int32 = { type: 'integer', minimum: -2147483648, maximum: 2147483647 };
const strings = { type: 'array', items: { type: 'string' } };

export const JOBSET_V1ALPHA2_SCHEMA = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'jobset.x-k8s.io/v1alpha2' },
    kind: { const: 'JobSet' },
    metadata: {
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 },
        namespace: { type: 'string' },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        annotations: { type: 'object', additionalProperties: { type: 'string' } },
      },
      additionalProperties: false,
    },
    spec: {
      type: 'object',
      required: ['replicatedJobs'],
      additionalProperties: false,
      properties: {
        network: {
          type: 'object',
          additionalProperties: false,
          properties: {
            enableDNSHostnames: { type: 'boolean' },
            publishNotReadyAddresses: { type: 'boolean' },
            subdomain: { type: 'string' },
          },
        },
        startupPolicy: {
          type: 'object',
          required: ['startupPolicyOrder'],
          additionalProperties: false,
          properties: { startupPolicyOrder: { enum: ['AnyOrder', 'InOrder'] } },
        },
        failurePolicy: {
          type: 'object',
          additionalProperties: false,
          properties: {
            maxRestarts: int32,
            restartStrategy: { enum: ['Recreate', 'BlockingRecreate'] },
            rules: {
              type: 'array',
              items: {
                type: 'object',
                required: ['action', 'name'],
                additionalProperties: false,
                properties: {
                  action: { enum: ['FailJobSet', 'RestartJobSet', 'RestartJobSetAndIgnoreMaxRestarts'] },
                  name: { type: 'string', pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' },
                  onJobFailureReasons: strings,
                  targetReplicatedJobs: strings,
                },
              },
            },
          },
        },
        successPolicy: {
          type: 'object',
          required: ['operator'],
          additionalProperties: false,
          properties: { operator: { enum: ['All', 'Any'] }, targetReplicatedJobs: strings },
        },
        suspend: { type: 'boolean' },
        ttlSecondsAfterFinished: int32,
        replicatedJobs: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            required: ['name', 'template'],
            additionalProperties: false,
            properties: {
              name: { type: 'string' },
              groupName: { type: 'string' },
              replicas: int32,
              template: {
                type: 'object',
                additionalProperties: false,
                properties: {
                  metadata: { type: 'object' },
                  // A batch/v1 JobSpec: checked by kubernetes-models' Job.
                  spec: { type: 'object' },
                },
              },
            },
          },
        },
      },
    },
  },
} as const;
