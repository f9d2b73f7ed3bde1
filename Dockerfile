# ecopy: tesseract (vie+eng+osd), poppler, qpdf and the Liberation fonts, running `ecopy`.
# Two stages: wheels are built with pip in the first, the runtime image has no build tools and
# runs as the unprivileged user `ecopy` (uid 10001). docker-compose.yml runs it as workers.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md requirements.lock ./
COPY ecopy ecopy
COPY pipeline pipeline
COPY signing signing
COPY storage storage
COPY workers workers
# the locked versions, each checked against its hash; then ecopy itself without dependencies
RUN pip wheel --no-cache-dir --require-hashes --no-deps --wheel-dir /wheels -r requirements.lock \
 && pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock \
 && pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-vie tesseract-ocr-eng \
      tesseract-ocr-osd poppler-utils qpdf fonts-liberation2 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-deps /wheels/*.whl && rm -rf /wheels \
 && useradd --create-home --uid 10001 ecopy
USER ecopy
WORKDIR /data
ENV ECOPY_STORE=/data OMP_THREAD_LIMIT=1 PYTHONUNBUFFERED=1
# store + Redis reachable; compose overrides the interval per service
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=10s --retries=3 CMD ["ecopy", "health"]
ENTRYPOINT ["ecopy"]
CMD ["--help"]
