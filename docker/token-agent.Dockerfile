# syntax=docker/dockerfile:1
# The token agent normally runs on a workstation next to its token. This image runs it with a
# SoftHSM2 token for the production-like compose stack.  docker build -f docker/token-agent.Dockerfile -t thk/token-agent .
FROM node:20-bookworm-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY . .
RUN npm ci --no-audit --no-fund \
 && NX_DAEMON=false NX_NO_CLOUD=true npx nx run-many -t build -p token-agent --outputStyle=static \
 && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends softhsm2 opensc && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so PKCS11_RESCAN=reinitialize AGENT_STATE_DIR=/var/lib/token-agent
WORKDIR /app
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/libs ./libs
COPY --from=build /src/apps/token-agent ./apps/token-agent
COPY docker/token-agent-entrypoint.sh /usr/local/bin/token-agent-entrypoint
RUN mkdir -p /var/lib/token-agent /var/lib/softhsm/tokens && chown -R node /var/lib/token-agent /var/lib/softhsm
USER node
ENTRYPOINT ["token-agent-entrypoint"]
CMD ["node", "--enable-source-maps", "apps/token-agent/dist/main.js", "run"]
