# The image runs the wheel, exactly as `make smoke` (tests/wheel_smoke.py) does: build it, install it
# outside the source tree, start `postmortem-bot serve`. tests/test_deployment.py keeps CMD and the
# smoke test's command identical.

FROM python:3.12-slim AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY models ./models
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=3000
RUN useradd --create-home --uid 10001 postmortem
COPY --from=wheel /wheels /wheels
RUN pip install --no-cache-dir "$(ls /wheels/postmortem_bot-*.whl)[postgres]" && rm -rf /wheels
USER postmortem
WORKDIR /home/postmortem
EXPOSE 3000
# Liveness only (no database): a database outage should not get every replica restarted. /readyz says
# whether the database is reachable and migrated.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=2)"]
CMD ["postmortem-bot", "serve", "--host", "0.0.0.0"]
