"""Turn a database URL (the pallet contract's DATABASE_URL / DB_DEFAULT_URL) into Django's DATABASES entry.

Debian packages dj-database-url (python3-dj-database-url), but the runtime base image carries only
Django, psycopg2 and gunicorn and the Dockerfile has no network, so this small parser does the job.
"""
from urllib.parse import parse_qsl, unquote, urlsplit

ENGINES = {
    "postgres": "django.db.backends.postgresql",
    "postgresql": "django.db.backends.postgresql",
    "pgsql": "django.db.backends.postgresql",
    "postgis": "django.contrib.gis.db.backends.postgis",
    "sqlite": "django.db.backends.sqlite3",
}


def parse_database_url(url, conn_max_age=0, connect_timeout=5):
    parts = urlsplit(url)
    if parts.scheme not in ENGINES:
        raise ValueError(
            f"unsupported database URL scheme {parts.scheme!r}: use one of {', '.join(sorted(ENGINES))}"
        )
    engine = ENGINES[parts.scheme]
    if engine.endswith("sqlite3"):
        # sqlite:///relative.db or sqlite:////absolute/path.db; sqlite://:memory: for an in-memory db.
        name = parts.netloc if parts.netloc == ":memory:" else unquote(parts.path[1:] or ":memory:")
        return {"ENGINE": engine, "NAME": name, "CONN_MAX_AGE": conn_max_age}
    options = dict(parse_qsl(parts.query))
    # Fail fast when the database is unreachable so /health/ answers 503 instead of hanging.
    options.setdefault("connect_timeout", str(connect_timeout))
    return {
        "ENGINE": engine,
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": conn_max_age,
        "OPTIONS": options,
    }
