# seedlab's image: built from the wheel, so it holds exactly what `pip install seedlab` installs.
# docker build -t seedlab .   (docker-compose.yml builds it for you)
FROM python:3.11-slim AS wheel
WORKDIR /src
COPY . .
# A wheel, not a source install: the packaged pages and migrations are real copies in it.
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
# Optional extras of seedlab to install, e.g. --build-arg EXTRAS=ray for the Ray executor.
ARG EXTRAS=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SEEDLAB_DATA_DIR=/data
COPY --from=wheel /wheels /wheels
RUN pip install --no-cache-dir "$(ls /wheels/seedlab-*.whl)${EXTRAS:+[$EXTRAS]}" && rm -rf /wheels \
    && useradd --create-home --uid 1000 seedlab && mkdir /data && chown seedlab /data
USER seedlab
WORKDIR /home/seedlab
VOLUME ["/data"]
EXPOSE 8000
# Every service runs a `seedlab` subcommand: the image's entrypoint is the CLI.
ENTRYPOINT ["seedlab"]
CMD ["server", "--host", "0.0.0.0", "--port", "8000"]
