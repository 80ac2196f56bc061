# The database image of docker-compose.yml: PostGIS with pgRouting (the roads, migration 0024).
# The postgis/postgis images are Debian with the PostgreSQL project's apt repository, which
# carries postgresql-<major>-pgrouting.
FROM postgis/postgis:15-3.4
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15-pgrouting \
    && rm -rf /var/lib/apt/lists/*
