# Kysy in a container: Debian slim with Voikko, a non-root user, the index and the documents in a volume.
#   docker build -t kysy .
#   docker run -p 8000:8000 -v kysy-data:/data -e KYSY_ADMIN_TOKEN=... -e KYSY_PUBLIC_URL=https://... kysy
# On the first start the bundled corpus is copied to /data/corpus and indexed (a minute or two);
# documents added or removed on /admin stay in the volume.
FROM python:3.11-slim-bookworm

# Debian's Voikko gives the best Finnish analysis (without it Kysy falls back to simplemma).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libvoikko1 voikko-fi curl \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system kysy && useradd --system --gid kysy --home-dir /app --shell /usr/sbin/nologin kysy

WORKDIR /app
COPY pyproject.toml README.md ./
COPY kysy ./kysy
COPY cli ./cli
COPY ingest ./ingest
COPY assistant ./assistant
COPY eval ./eval
COPY bench ./bench
RUN pip install --no-cache-dir . && rm -rf /root/.cache
COPY corpus ./corpus

ENV KYSY_DATA_DIR=/data \
    KYSY_CORPUS_DIR=/data/corpus \
    BUNDLED_CORPUS=/app/corpus \
    KYSY_HOST=0.0.0.0 \
    KYSY_PORT=8000 \
    PYTHONUNBUFFERED=1

RUN mkdir -p /data && chown -R kysy:kysy /data
VOLUME ["/data"]
USER kysy
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=300s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/readyz || exit 1

# The bundled corpus on the first start; then bring the index up to date (incremental) and serve.
CMD ["sh", "-c", "[ -d \"$KYSY_CORPUS_DIR\" ] || cp -r \"$BUNDLED_CORPUS\" \"$KYSY_CORPUS_DIR\"; kysy ingest \"$KYSY_CORPUS_DIR\" && exec kysy serve"]
