# One image for the API, the worker and the one-shot migrate/seed jobs; the command picks which
# (docker-compose.yml, deploy/k8s). It runs as the image's non-root `node` user (uid 1000, what
# the Kubernetes securityContext expects) and needs only /tmp writable (tsx's compile cache, the
# worker's heartbeat file): the root filesystem can be read-only.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# The container marker: config.ts then requires ORDERLY_MODE (no silent fallback to dev) and an
# ADMIN_API_TOKEN (never the published dev token). ORDERLY_MODE itself is not set here on purpose.
ENV ORDERLY_CONTAINER=true
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --include=dev --loglevel=error
COPY . .
ENV TSX="--import file:///app/node_modules/tsx/dist/loader.mjs"
USER node
EXPOSE 3000
CMD ["sh", "-c", "exec node $TSX api/server.ts"]
