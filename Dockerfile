# Aurum hub: Node 22 runs the TypeScript sources directly (type stripping), so there is no build step.
FROM node:22-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY src ./src
COPY migrations ./migrations
COPY connectors ./connectors
COPY mappings ./mappings
USER node
EXPOSE 8080
CMD ["node", "src/cli/index.ts", "start"]
