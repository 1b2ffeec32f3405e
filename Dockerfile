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
COPY . /app

# Editable, so templates/ and demo/ are found next to the code; installs `syndicator`.
# /app/var must exist and belong to `app` *in the image* so that named volumes mounted
# below it (e.g. /app/var/public) are initialised writable for the non-root user.
RUN pip install --no-cache-dir -e . \
 && mkdir -p /app/var/public \
 && chown -R app:app /app/var

USER app

EXPOSE 8000
CMD ["syndicator", "web", "--host", "0.0.0.0", "--port", "8000"]
