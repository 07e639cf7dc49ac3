"""Packaging for streamdash.

The top-level ``assets/`` folder is shipped inside the wheel as ``streamdash/assets`` so an
installed dashboard serves its CSS without a source checkout (and without any CDN).
"""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent
VERSION = next(line.split('"')[1] for line in (ROOT / "streamdash" / "_version.py").read_text()
               .splitlines() if line.startswith("__version__"))

setup(
    name="streamdash",
    version=VERSION,
    description="Real-time data streaming with validation, data-quality alerts and a live dashboard",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["streamdash", "streamdash.*"]) + ["streamdash.assets"],
    package_dir={"streamdash.assets": "assets"},
    package_data={"streamdash.assets": ["*.css", "*.js", "*.LICENSE", "*.ico", "*.png"]},
    include_package_data=False,
    install_requires=[
        "dash>=4.2",
        "dash-ag-grid>=31.0",
        "plotly>=5.22",
        "dash-bootstrap-components>=1.6",
        "dash-auth>=2.3",  # the login (Basic, OIDC) in front of the dashboard and the API
        "pandas>=2.1",
        "requests>=2.31",
        "backoff>=2.2",
        "PyYAML>=6.0",
        "orjson>=3.9",
        "gunicorn>=27.0",  # streamdash.http_worker extends its gthread worker (27.x internals)
        "prometheus-client>=0.20",
        "google-re2>=1.1",
        # Decodes and validates a batch in C straight from the declared schema (issue #18).
        "msgspec>=0.18",
        # The push sources (MQTT, Redis Streams) and the web/worker roles on Redis are part of
        # the product, and the source registry imports every source module: small pure-Python
        # clients, installed always rather than failing at import without an extra.
        "redis>=5.0",  # redis-py: Redis Streams source, shared state, leases
        "paho-mqtt>=2.0",  # Eclipse Paho, the reference MQTT client
    ],
    extras_require={
        "test": [
            "pytest>=8.0",
            "pytest-cov>=5.0",
            # The suite on every core (`pytest -n auto`): CI's time halves on two cores.
            "pytest-xdist>=3.5",
            "dash[testing]>=4.2",
            "hypothesis>=6.100",
            "ruff>=0.5",
            "setuptools>=61",
            "wheel>=0.40",  # tests build the wheel offline to check the assets ship in it
            "authlib>=1.3",  # the OIDC login is tested too (dash-auth's OIDCAuth needs it)
            # The Postgres history is tested on a real server.
            "psycopg[binary,pool]>=3.2",
        ],
        # History in PostgreSQL: psycopg 3 and its connection pool.
        "postgres": ["psycopg[binary,pool]>=3.2"],
        # Single sign-on: dash-auth's OIDCAuth needs authlib (auth.mode: oidc).
        "oidc": ["dash-auth[oidc]>=2.3"],
    },
    entry_points={"console_scripts": ["streamdash=streamdash.cli:_main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Framework :: Dash",
        "License :: OSI Approved :: MIT License",
    ],
)
