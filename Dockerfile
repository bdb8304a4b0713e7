# Production image: gunicorn serves the web app; the same image runs the Celery worker and beat.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=kura.settings.production KURA_DATA_DIR=/var/lib/kura

RUN apt-get update && apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /home/kura kura && mkdir -p /var/lib/kura && chown kura /var/lib/kura

WORKDIR /app
COPY pyproject.toml README.md ./
COPY kura ./kura
COPY access ./access
COPY catalog ./catalog
COPY annotations ./annotations
COPY storage ./storage
COPY lineage ./lineage
COPY frontend ./frontend
COPY manage.py ./
RUN pip install . && KURA_SECRET_KEY=build-only-collectstatic-key-not-used-at-runtime-0123456789 \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 python manage.py collectstatic --noinput -v0

USER kura
EXPOSE 8000
CMD ["gunicorn", "kura.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-"]
