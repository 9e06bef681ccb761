# The indexer image: workers (`indexer worker`) and the CLI (`indexer start|status|…`).
# No secrets are baked in: RPC URLs and DATABASE_URL come from the environment at run time.
# test/e2e/shipped.test.ts reproduces these stages (files, installs, command) from this file and
# indexes a chain with the result, so what is written here is what is tested.

# Build: every dependency, then `npm run build`: the CLI and worker compiled to dist/ (esbuild)
# and the workflow bundle prebuilt (bundleWorkflowCode), so nothing compiles at run time.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build.ts ./scripts/
COPY src ./src
RUN npm run build

# Runtime: production dependencies and the compiled code; no TypeScript sources.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# Bounded heap: the worker's ranges are bounded, so a capped heap keeps RSS near 300 MB (see bench/).
ENV NODE_OPTIONS="--max-old-space-size=256 --max-semi-space-size=8"
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY --from=build /app/dist ./dist
USER node
ENTRYPOINT ["node", "bin/indexer.mjs"]
CMD ["worker"]
