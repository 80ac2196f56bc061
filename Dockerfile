# OneMap's app image. The database is a separate PostGIS + pgRouting container
# (docker-compose.yml, docker/postgis.Dockerfile).

# The browser libraries the app serves (the map view's, the API reference's, the OGC API's
# HTML pages'), pinned in web/package-lock.json; the devDependencies are test tools, not
# needed here.
FROM node:20-bookworm-slim AS web
WORKDIR /src
COPY web/package.json web/package-lock.json web/copy.mjs ./web/
RUN npm ci --prefix web --omit=dev --ignore-scripts --no-audit --no-fund && node web/copy.mjs

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY server ./server
COPY geo ./geo
COPY mobile_api ./mobile_api
COPY seed ./seed
COPY graphql ./graphql
COPY --from=web /src/server/mapview/static/vendor ./server/mapview/static/vendor
COPY --from=web /src/server/reference/static/vendor ./server/reference/static/vendor
COPY --from=web /src/server/ogc/static/vendor ./server/ogc/static/vendor
# Editable, so the app serves its static files and the GraphQL contract from /app.
RUN pip install -e . && useradd --system --home /app onemap && mkdir -p /app/data \
    && chown onemap /app/data
USER onemap

ENV ONEMAP_SERVER_HOST=0.0.0.0 ONEMAP_SERVER_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
# Migrate, seed the demo city (idempotent), serve.
CMD ["sh", "-c", "onemap migrate && onemap seed --scale ${ONEMAP_SEED_SCALE:-1} --quiet && exec onemap serve"]
