# Aurum hub: Node 22 runs the TypeScript sources directly (type stripping), so there is no build step.
FROM node:22-slim
WORKDIR /app
ENV NODE_ENV=production
# In a container the port is published by the runtime: listen beyond the container's loopback.
ENV AURUM_HOST=0.0.0.0
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY src ./src
COPY migrations ./migrations
# The example workspace, whole: connectors, mappings, consent purposes and, if the workspace has
# one, identity.yaml (the [l] makes it optional: a pattern that matches nothing copies nothing).
COPY connectors ./connectors
COPY mappings ./mappings
COPY consent.yaml identity.yam[l] ./
USER node
EXPOSE 8080
CMD ["node", "src/cli/index.ts", "start"]
