"""Package layout that pyproject.toml cannot express: top-level data folders shipped inside
the ``radiusd`` package, so an installed wheel finds them with ``importlib.resources``.

``dictionaries/`` becomes ``radiusd/dictionaries/`` and ``config/`` (example configuration,
systemd unit, Grafana dashboard) becomes ``radiusd/examples/``. Every file in those folders is
taken, so a new dictionary file needs no change here. The source tree keeps the folders where
they are (radiusd.codec.dictionary falls back to the top-level one).

``radiusd.codec._speedups`` is the C version of the codec's per-request walk
(radiusd/codec/scanning.py). It is optional: without a C compiler (or Python's headers) the
build says so and goes on, and the pure-Python functions run instead.
"""

from setuptools import Extension, find_namespace_packages, setup

DATA_FOLDERS = {"radiusd.dictionaries": "dictionaries", "radiusd.examples": "config"}

setup(
    packages=[*find_namespace_packages(include=["radiusd*", "ipam*", "inventory*"]), *DATA_FOLDERS],
    package_dir=dict(DATA_FOLDERS),
    package_data={
        "radiusd": [
            "store/migrations/*.py",
            "store/migrations/versions/*.py",
            "store/alembic.ini",
            "cli/topics/*.txt",  # radiusd help TOPIC
            "web/templates/*.html",  # the web console (/ui)
            "web/static/*",
        ],
        **{package: ["*", "**/*"] for package in DATA_FOLDERS},
    },
    ext_modules=[Extension("radiusd.codec._speedups", ["radiusd/codec/_speedups.c"], optional=True)],
)
