# The image of a @ps job on Kubernetes (see docs/orchestrators.md and `pskv k8s`):
#   docker build -t REGISTRY/pskv:TAG .
# Every pod runs `pskv start` (the manifests give the arguments) and finds its role from its
# environment. The built-in data sets (imdb, spam) come with the npm packages npm ci installs.
FROM node:20-slim
WORKDIR /app
ENV CI=true TURBO_TELEMETRY_DISABLED=1
COPY . .
# Dev dependencies too: the build needs them (tsup, TypeScript), and the data sets are among them.
RUN npm ci --no-audit --no-fund && npm run build
ENV NODE_ENV=production
# The scheduler's port (DEFAULT_SCHEDULER_PORT); servers and workers listen on any free port.
EXPOSE 9700
USER node
ENTRYPOINT ["node", "packages/apps/dist/cli.js"]
