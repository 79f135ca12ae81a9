# Aegis DICOMweb gateway on Node 24 LTS. scripts/docker-build-check.sh runs the same steps
# without Docker (CI has no Docker engine): keep the two in step.
# NODE_ENV=production: the gateway refuses to start without a real master key (AEGIS_MASTER_KEY
# and AEGIS_MASTER_KEY_ID, or a key file made by 'aegis keys generate'), never generating a
# development key next to the data. The README shows a docker run.
FROM node:24-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY gateway ./gateway
COPY adapters ./adapters
COPY conformance ./conformance
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production AEGIS_HOST=0.0.0.0 AEGIS_PORT=8080 AEGIS_DATA_DIR=/data
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
RUN mkdir -p /data && chown node:node /data && chmod 700 /data
USER node
VOLUME /data
EXPOSE 8080
# Asks /healthz on the configured port (AEGIS_PORT or the configuration file): set the port with
# -e AEGIS_PORT=N rather than 'start --port N', which the health check cannot see.
HEALTHCHECK CMD ["node", "bin/aegis.mjs", "healthcheck"]
ENTRYPOINT ["node", "bin/aegis.mjs"]
CMD ["start"]
