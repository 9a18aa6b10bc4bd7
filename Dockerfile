# syntax=docker/dockerfile:1
# davgate container image. Two stages: `build` compiles TypeScript with the dev dependencies; the runtime
# stage holds only production dependencies, the compiled dist/, bin/ and config/, and runs as `node`.
#
#   docker build -t davgate .
#   docker run --rm -p 127.0.0.1:8080:8080 -v "$PWD/config/davgate.yaml:/etc/davgate/davgate.yaml:ro" davgate
#
# See docker-compose.yml for upstream accounts and secrets.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Lockfile first so the dependency layer is cached across source edits.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
# Inside a container, 127.0.0.1 (the config default) is unreachable from the published port.
ENV NODE_ENV=production \
    DAVGATE_LISTEN_HOST=0.0.0.0 \
    DAVGATE_LISTEN_PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY config ./config
# The config file is mounted here read-only; the folder exists so a missing mount fails with a clear
# "cannot read /etc/davgate/davgate.yaml" rather than a path error.
RUN mkdir -p /etc/davgate
USER node
EXPOSE 8080
# Node 20 has a global fetch, so no curl/wget in the image. Exits 0 only on a 2xx from /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "const p=process.env.DAVGATE_LISTEN_PORT||process.env.PORT||8080;fetch('http://127.0.0.1:'+p+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/davgate.js"]
CMD ["serve", "--config", "/etc/davgate/davgate.yaml"]
