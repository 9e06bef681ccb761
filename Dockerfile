# The indexer image: workers (`indexer worker`) and the CLI (`indexer start|status|…`).
# No secrets are baked in: RPC URLs and DATABASE_URL come from the environment at run time.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# Bounded heap: the worker's ranges are bounded, so a capped heap keeps RSS near 300 MB (see bench/).
ENV NODE_OPTIONS="--max-old-space-size=256 --max-semi-space-size=8"
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY tsconfig.json ./
USER node
ENTRYPOINT ["node", "bin/indexer.mjs"]
CMD ["worker"]
