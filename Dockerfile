# radiusd container image: non-root, UDP 1812 (auth) and 1813 (accounting), API on 8080.
# Two stages: the first builds the wheel, the second installs it with the pinned dependencies
# (constraints.txt) and keeps nothing of the source tree. The base image is pinned by exact tag:
# change it on purpose (and rebuild), not by surprise.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# a C compiler for the codec's optional extension (radiusd/codec/_speedups.c); the image's Python
# has its headers. Only this stage has it: the wheel carries the built module.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md constraints.txt ./
COPY radiusd ./radiusd
COPY ipam ./ipam
COPY inventory ./inventory
COPY dictionaries ./dictionaries
COPY config ./config
RUN pip wheel --no-cache-dir --disable-pip-version-check --no-deps -w /dist .

FROM ${PYTHON_IMAGE}
RUN useradd --system --create-home --home-dir /var/lib/radiusd radiusd
COPY --from=build /dist/ /tmp/dist/
COPY constraints.txt /tmp/constraints.txt
# The example config ships inside the package (radiusd/examples/); radiusd finds
# /etc/radiusd/radiusd.toml by itself, for `serve` and for every admin command.
RUN pip install --no-cache-dir --disable-pip-version-check -c /tmp/constraints.txt /tmp/dist/radiusd-*.whl \
    && rm -rf /tmp/dist /tmp/constraints.txt \
    && mkdir -p /etc/radiusd \
    && python -c "import importlib.resources as r, shutil; \
shutil.copy(r.files('radiusd') / 'examples' / 'radiusd.toml', '/etc/radiusd/radiusd.toml')"

USER radiusd
WORKDIR /var/lib/radiusd
ENV RADIUSD_DATA_DIR=/var/lib/radiusd \
    RADIUSD_LOG_FORMAT=json
EXPOSE 1812/udp 1813/udp 8080/tcp
ENTRYPOINT ["radiusd"]
CMD ["serve", "--config", "/etc/radiusd/radiusd.toml"]
