# One image for the three apps (and the CLI); the command picks the app.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# kafkajs patched at install (patches/, patch-package: docs/ARCHITECTURE.md)
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# two malloc arenas instead of up to 8 a core: less resident memory outside the V8 heap (docs/OPERATIONS.md)
ENV MALLOC_ARENA_MAX=2
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/schemas ./schemas
COPY --from=build /app/contracts ./contracts
COPY --from=build /app/package.json ./
USER node
CMD ["node", "dist/apps/ingest/src/main.js"]
