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
# Healthy while `token-agent status` finds the agent running, connected to NATS, and its status file
# fresh (the agent rewrites it at least every 5 s).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD node apps/token-agent/dist/main.js status --json | node -e "let s='';process.stdin.on('data',(d)=>{s+=d}).on('end',()=>{const r=JSON.parse(s);process.exit(r.alive&&r.status.nats.state==='connected'&&Date.now()-Date.parse(r.status.updatedAt)<30000?0:1)})"
ENTRYPOINT ["token-agent-entrypoint"]
CMD ["node", "--enable-source-maps", "--no-memory-reducer", "apps/token-agent/dist/main.js", "run"]
