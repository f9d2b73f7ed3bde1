# ecopy: tesseract (vie+eng+osd), poppler, qpdf and the Liberation fonts, running `ecopy`.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ecopy ecopy
COPY pipeline pipeline
COPY signing signing
COPY storage storage
COPY workers workers
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-vie tesseract-ocr-eng \
      tesseract-ocr-osd poppler-utils qpdf fonts-liberation2 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
 && useradd --create-home --uid 10001 ecopy
USER ecopy
WORKDIR /data
ENV ECOPY_STORE=/data OMP_THREAD_LIMIT=1
ENTRYPOINT ["ecopy"]
CMD ["--help"]
