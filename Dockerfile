# syntax=docker/dockerfile:1
# syndicator application image: web, celery workers, beat and migrate all run from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SYNDICATOR_DATA_DIR=/app/var

RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
            --shell /usr/sbin/nologin app

WORKDIR /app

# Dependencies from the hash-pinned runtime lock (`make lock`), in their own layer: a code
# change does not reinstall them. The lock also holds the build backend for the step below.
COPY requirements/runtime.lock /app/requirements/runtime.lock
RUN pip install --no-cache-dir --require-hashes -r requirements/runtime.lock

COPY . /src

# A normal wheel, as a user would install it: it carries the templates and the demo
# releases (pyproject.toml force-include), so nothing is read from a checkout. No
# dependencies and no build isolation: nothing is fetched outside the lock.
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation -w /tmp/dist /src \
 && pip install --no-cache-dir --no-deps /tmp/dist/syndicator-*.whl \
 && rm -rf /tmp/dist /src \
 && mkdir -p /app/var \
 && chown -R app:app /app/var

USER app

EXPOSE 8000
CMD ["syndicator", "web", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
