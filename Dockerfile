# radiusd container image: non-root, UDP 1812 (auth) and 1813 (accounting), API on 8080.
FROM python:3.11-slim

RUN useradd --system --create-home --home-dir /var/lib/radiusd radiusd
WORKDIR /opt/radiusd
COPY pyproject.toml README.md ./
COPY radiusd ./radiusd
COPY ipam ./ipam
COPY inventory ./inventory
COPY dictionaries ./dictionaries
COPY config ./config
RUN pip install --no-cache-dir -e . && mkdir -p /etc/radiusd && cp config/radiusd.toml /etc/radiusd/

USER radiusd
ENV RADIUSD_DATA_DIR=/var/lib/radiusd \
    RADIUSD_LOG_FORMAT=json
EXPOSE 1812/udp 1813/udp 8080/tcp
ENTRYPOINT ["radiusd"]
CMD ["serve", "--config", "/etc/radiusd/radiusd.toml"]
