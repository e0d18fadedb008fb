# One image for the API, the worker and the one-shot migrate/seed jobs; the command picks which.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --include=dev --loglevel=error
COPY . .
ENV TSX="--import file:///app/node_modules/tsx/dist/loader.mjs"
EXPOSE 3000
CMD ["sh", "-c", "exec node $TSX api/server.ts"]
