# The image of sampleproject, in two stages (see docs/container.md):
#
#   build    runs the whole pipeline (`make`: tests, reports, quality gate, training and its
#            model gate, wheel); the image is never built from code that fails it.
#   runtime  the wheel installed with its pinned runtime dependencies only: no compiler, no
#            training stack, no tests, no pip.
#
#   docker build --rm -t pyapp .      then      docker run --rm pyapp 45 46
#
# It needs BuildKit for its cache mounts and secrets: Docker 20.10 or later (tested with
# Debian 12's docker.io, 20.10.24), where Docker 20.10 to 22 need it switched on
# (DOCKER_BUILDKIT=1, or "features": {"buildkit": true} in the daemon's daemon.json) and
# Docker 23 and later use it by default through the buildx component; podman and buildah
# too. There is no `# syntax=` line on purpose: it makes BuildKit download its
# Dockerfile frontend from Docker Hub, which a site without registry access cannot do, and
# the built-in frontend has everything used here.
#
# Build arguments (all optional):
#   BASE_IMAGE        the Python base of both stages; a site without registry access passes
#                     its own (tools/container/make-base-image.sh makes one from Debian)
#   SOURCE_DATE_EPOCH timestamps inside the wheel (the build context has no .git to read it from)
#   VERSION, REVISION, SOURCE   the OCI labels of the image
#   SONAR_HOST_URL    publish the reports to this SonarQube server; the token is a build secret
#   RUNTIME_EXTRAS    the package's extras installed in the runtime (default: tracing; "": none)
# Build secrets (--secret id=...,src=FILE; mounted for one step, never stored in a layer):
#   ca                a certificate authority bundle for HTTPS (a proxy that inspects traffic)
#   sonar_token       the SonarQube token

# Declared before the first FROM so that FROM lines can use it. Python 3.11 on Debian 12:
# the interpreter constraints.txt pins for, and the one Debian 12 itself ships.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# =========================================================================================
# Stage 1: build. Everything the pipeline needs; thrown away once the wheel exists.
# =========================================================================================
FROM ${BASE_IMAGE} AS build

# Fail a RUN when any command of a pipe fails, not only the last one.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# `make` runs the pipeline and is the one tool the Python base lacks. The package lists and
# downloads live in cache mounts: they speed up the next build and never enter the layer.
# Debian-based images delete downloaded packages after each install (docker-clean); keeping
# them is what makes the cache mount useful. The version is left to the base's Debian release
# (pinning one would break any other base): hadolint's DL3008 is therefore ignored.
# hadolint ignore=DL3008
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    rm -f /etc/apt/apt.conf.d/docker-clean \
    && echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' > /etc/apt/apt.conf.d/keep-cache \
    && apt-get update \
    && apt-get install --yes --no-install-recommends make

# The build environment is a virtual environment, as on a developer's machine; the Makefile
# uses the one VIRTUAL_ENV names. PIP_CERT and friends name the system's certificate bundle,
# over which each step that downloads mounts the `ca` secret when one is given (pip's own
# bundled certificates would ignore it; these variables make every tool use the system's).
ENV VIRTUAL_ENV=/opt/build-venv \
    PATH=/opt/build-venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    UV_LINK_MODE=copy
RUN python3 -m venv "$VIRTUAL_ENV"

WORKDIR /src

# Dependencies first, from the dependency files only: this layer is reused for as long as
# they do not change, so a change of code does not download or install anything again.
# setup.py needs the package's version (__init__.py) and the scripts it installs; the files
# it only reads for metadata (README, licence) are empty stand-ins here. `make install` is
# the same step a developer runs: the dev and train extras, pinned by constraints.txt, installed
# by uv. uv's download cache is a cache mount, in another file system than the environment,
# so uv copies from it (UV_LINK_MODE) instead of trying hard links first.
# The runtime requirements are the package's, plus those of the extras named in RUNTIME_EXTRAS
# (tracing: OpenTelemetry, 7 MB, so that `serve --tracing` works in the image).
COPY setup.py pyproject.toml requirements.txt constraints.txt Makefile ./
COPY scripts/ scripts/
COPY sampleproject/__init__.py sampleproject/
ARG RUNTIME_EXTRAS=tracing
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=cache,target=/root/.cache/uv \
    --mount=type=secret,id=ca,target=/etc/ssl/certs/ca-certificates.crt \
    mkdir -p sampleproject/data tests \
    && touch README.md LICENSE \
    && make install \
    && RUNTIME_EXTRAS="$RUNTIME_EXTRAS" python -c 'import importlib.metadata as m, os; wanted = [f"; extra == \"{name}\"" for name in os.environ["RUNTIME_EXTRAS"].split()]; print(*(r.split(";")[0] if any(r.endswith(w) for w in wanted) else r for r in m.requires("sampleproject") if "extra ==" not in r or any(r.endswith(w) for w in wanted)), sep="\n")' \
        > /opt/runtime-requirements.txt \
    && cp constraints.txt /opt/runtime-constraints.txt

# The model, in a layer of its own, from the files `make train` reads and nothing else: the
# data, the training configuration and code, the command line that runs it, and the model
# contract and registry names that training shares with the runtime (inference/). A change
# anywhere else (serving, tests, documentation) reuses this layer instead of training again;
# `make` below finds the model up to date (COPY keeps the files' dates) and goes on.
# MLflow records the git commit of each run when it can; here there is no git to ask.
ENV GIT_PYTHON_REFRESH=quiet
COPY sampleproject/cli.py sampleproject/arguments.py sampleproject/errors.py \
     sampleproject/atomic.py sampleproject/schema.py sampleproject/features.py \
     sampleproject/private_dirs.py sampleproject/
COPY sampleproject/commands/__init__.py sampleproject/commands/train.py sampleproject/commands/
COPY sampleproject/inference/__init__.py sampleproject/inference/model.py \
     sampleproject/inference/location.py sampleproject/inference/registry.py \
     sampleproject/inference/model_ref.py sampleproject/inference/mlflow_rest.py \
     sampleproject/inference/model_cache.py sampleproject/inference/
COPY sampleproject/training/ sampleproject/training/
COPY sampleproject/data/ sampleproject/data/
COPY sampleproject/config/ sampleproject/config/
RUN make train

# Now the sources (.dockerignore keeps out git data, environments and earlier outputs).
COPY . .

# The pipeline. Without .git, make cannot read the commit's date, so it comes as an argument
# (reproducible wheels). The mypy and ruff caches are cache mounts: a rebuild after a small
# change re-checks only what changed, and the caches stay out of the layer. make runs one job
# per processor: the tests and the analysers (pylint the slowest) are independent, and their
# logs stay whole (--output-sync).
# SonarQube: only when a server is named and the token secret is given. The build context has
# no .git, so the scanner's SCM (blame) analysis is off; the token is read from the secret
# file inside this one step and exists in no layer and no image setting.
ARG SOURCE_DATE_EPOCH=315532800
ARG SONAR_HOST_URL=
RUN --mount=type=cache,target=/src/.mypy_cache \
    --mount=type=cache,target=/src/.ruff_cache \
    --mount=type=secret,id=ca,target=/etc/ssl/certs/ca-certificates.crt \
    --mount=type=secret,id=sonar_token \
    if [ -n "$SONAR_HOST_URL" ] && [ ! -s /run/secrets/sonar_token ]; then \
        echo "SonarQube: SONAR_HOST_URL is set but the sonar_token secret is not: not publishing"; \
        SONAR_HOST_URL=; \
    fi \
    && if [ -n "$SONAR_HOST_URL" ]; then \
        SONAR_TOKEN="$(cat /run/secrets/sonar_token)"; \
        export SONAR_TOKEN SONAR_SCANNER_JSON_PARAMS='{"sonar.scm.disabled": "true"}'; \
    fi \
    && make --jobs="$(nproc)" --output-sync=target

# =========================================================================================
# Stage 2: runtime. What `docker run pyapp` starts: the application and nothing else.
# =========================================================================================
FROM ${BASE_IMAGE} AS runtime

# Python in a container: no .pyc files written at run time (the image's own are compiled at
# install; the file system may be read-only), output unbuffered so logs appear at once, and
# the application's environment first on PATH.
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONFAULTHANDLER=1 \
    LANG=C.UTF-8

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# The runtime dependencies, pinned, in their own layer: it depends on the requirement list and
# the pins only (copied from the build stage, compared by content), so a change of code reuses
# it. The environment has no pip of its own: the build stage's pip installs into it (--python),
# mounted for this step only, so no packaging tool stays in the image.
# One file goes, in this same step (a later step could hide it, not shrink the image): the
# onnxruntime wheel ships its C library (libonnxruntime.so, 35 MB) for other native packages
# to link against, beside the Python binding, which contains the runtime itself and does not
# load that library (its ELF NEEDED list names only system libraries). Nothing here links
# against it; the import check proves the binding still loads, and the image checks predict.
COPY --from=build /opt/runtime-requirements.txt /opt/runtime-constraints.txt /opt/deps/
RUN --mount=type=bind,from=build,source=/opt/build-venv,target=/opt/build-venv \
    --mount=type=cache,target=/root/.cache/pip \
    --mount=type=secret,id=ca,target=/etc/ssl/certs/ca-certificates.crt \
    python3 -m venv --without-pip "$VIRTUAL_ENV" \
    && PIP_CERT=/etc/ssl/certs/ca-certificates.crt /opt/build-venv/bin/pip --python "$VIRTUAL_ENV/bin/python" \
        install --quiet --disable-pip-version-check \
        --requirement /opt/deps/runtime-requirements.txt --constraint /opt/deps/runtime-constraints.txt \
    && find "$VIRTUAL_ENV" -path '*/onnxruntime/capi/libonnxruntime.so.*' -delete \
    && "$VIRTUAL_ENV/bin/python" -c 'import onnxruntime'

# An unprivileged user, with a fixed uid so that volume permissions are predictable. Created
# before the wheel arrives: this step does not depend on the code, so a code change reuses it.
# Its one writable folder caches models fetched from the MLflow registry (`serve --model
# models:/...`); with a read-only root file system, mount a volume there.
ENV SAMPLEPROJECT_CACHE_DIR=/var/cache/sampleproject
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin pyapp \
    && install --directory --owner 10001 --group 10001 "$SAMPLEPROJECT_CACHE_DIR"

# The wheel, in /dist, where `docker cp pyapp:/dist ...` finds it; installed without
# dependencies (they are all there: `pip check` proves it) and without the network.
# Then the SBOM: a CycloneDX inventory of exactly this environment (cyclonedx-py from the
# build stage, mounted for this step), shipped next to the wheel. SOURCE_DATE_EPOCH makes
# its timestamp the commit's, so the same commit gives the same SBOM.
COPY --from=build /src/dist/*.whl /dist/
ARG SOURCE_DATE_EPOCH=315532800
RUN --mount=type=bind,from=build,source=/opt/build-venv,target=/opt/build-venv \
    /opt/build-venv/bin/pip --python "$VIRTUAL_ENV/bin/python" \
        install --quiet --disable-pip-version-check --no-index --no-deps /dist/*.whl \
    && /opt/build-venv/bin/pip --python "$VIRTUAL_ENV/bin/python" check --disable-pip-version-check \
    && /opt/build-venv/bin/cyclonedx-py environment "$VIRTUAL_ENV/bin/python" \
        --output-reproducible --output-format JSON --output-file /dist/sbom.cdx.json

# Switch to the user created above: everything from here on, and every container, runs
# unprivileged. The application writes nothing but that cache; it runs with a read-only root
# file system too.
USER 10001:10001
WORKDIR /tmp

# Open Container Initiative labels: what is in the image and where it comes from.
ARG VERSION=unknown
ARG REVISION=unknown
ARG SOURCE=https://github.com/example/sampleproject
LABEL org.opencontainers.image.title="sampleproject" \
      org.opencontainers.image.description="Predicts the class of an animal; adds two numbers" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="MIT"

# `serve` listens on this port (SAMPLEPROJECT_PORT changes it): docker run -p 8000:8000 pyapp serve
EXPOSE 8000

# Healthy = `serve` answers GET /health, on the port it really listens on (the probe reads
# `serve --port N` from the main process's command line, else SAMPLEPROJECT_PORT). One-shot
# commands (45 46, predict) end before the first probe, so for them it never runs. A Python
# probe: the image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["pyapp-healthcheck"]

# JSON (exec) form: the entry point is PID 1 and gets SIGTERM from `docker stop` directly.
# Arguments after the image name replace CMD: `docker run --rm pyapp 45 46`.
ENTRYPOINT ["pyapp-entrypoint"]
CMD ["--help"]
