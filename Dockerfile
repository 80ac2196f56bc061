# OneMap's app image. The database is a separate postgis/postgis container (docker-compose.yml).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY server ./server
COPY geo ./geo
COPY mobile_api ./mobile_api
COPY seed ./seed
RUN pip install . && useradd --system --home /app onemap
USER onemap

ENV ONEMAP_SERVER_HOST=0.0.0.0 ONEMAP_SERVER_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
# Migrate, seed the demo city (idempotent), serve.
CMD ["sh", "-c", "onemap migrate && onemap seed --scale ${ONEMAP_SEED_SCALE:-1} --quiet && exec onemap serve"]
