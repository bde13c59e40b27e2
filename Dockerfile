# improvebot as a container: a slim image, a non-root user, the CLI as entry point.
#   docker build -t improvebot .
#   docker run --env-file .env -p 3000:3000 improvebot            (serve: Socket Mode with SLACK_APP_TOKEN, else HTTP)
#   docker run --env-file .env improvebot worker                  (scheduled work and bulk delivery only)
# compose.yaml runs it beside PostgreSQL 16.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY bot bot
COPY handlers handlers
COPY storage storage
RUN pip install --no-cache-dir --disable-pip-version-check --prefix=/install -c constraints.txt .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 improvebot
COPY --from=build /install /usr/local
USER improvebot
WORKDIR /home/improvebot
ENV PYTHONUNBUFFERED=1 PORT=3000 IMPROVE_PROBE_PORT=3000 IMPROVE_LOG_FORMAT=json
EXPOSE 3000
# liveness: the process answers and its database writes (/readyz is for load balancers: see README, Deployment)
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]
ENTRYPOINT ["improvebot"]
CMD ["serve"]
