# syntax=docker/dockerfile:1
# unias-serve in a container: serves the Triton model repository mounted at /models
# (`unias export --format triton --out models`) over KServe v2 on port 8080. See docs/deploy.md.
#
#   docker build -t unias-serve .
#   docker run --rm -p 8080:8080 -v "$PWD/models:/models:ro" unias-serve

# --- build: install the workspace, build the server and its runtime packages, copy out a production install
FROM node:20-bookworm-slim AS build
# onnxruntime-node's install script would fetch the CUDA provider; its CPU provider ships in the package.
ENV ONNXRUNTIME_NODE_INSTALL=skip CI=1
RUN npm i -g pnpm@12.4.2
WORKDIR /src
COPY . .
RUN pnpm install --frozen-lockfile
RUN pnpm --filter "@unias/server..." build
# A self-contained folder: the server's dist, its production dependencies, workspace packages as built.
RUN pnpm --filter @unias/server deploy --prod --legacy /app

# --- runtime: Node and the deployed folder only, run as the unprivileged `node` user (uid 1000)
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app
USER node
EXPOSE 8080
VOLUME ["/models"]
# Ready (200) once every model is loaded; 503 while loading or shutting down.
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/v2/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM (docker stop, Kubernetes) finishes in-flight requests, then exits; node is PID 1 and gets it directly.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/dist/bin.js"]
CMD ["--model-repository", "/models", "--host", "0.0.0.0", "--port", "8080"]
