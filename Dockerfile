# citewatch: one process (`citewatch run`), state in the /data volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    CITEWATCH_DB=/data/citewatch.db \
    TG_SESSION=/data/citewatch.session \
    TG_BOT_SESSION=/data/citewatch-bot.session

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY storage ./storage
RUN pip install . && useradd --create-home --uid 10001 citewatch \
    && mkdir -p /data && chown citewatch /data

USER citewatch
VOLUME ["/data"]
WORKDIR /data

HEALTHCHECK --interval=60s --timeout=20s --start-period=60s --retries=3 \
    CMD ["citewatch", "status", "--json"]

STOPSIGNAL SIGTERM
CMD ["citewatch", "run"]
