"""Settings for the pallet example project.

Everything comes from the environment the pallet contract gives the container (docs/contract.md, "Environment",
in the pallet-action repository):
cleanroom tests get DATABASE_URL / DB_DEFAULT_URL pointing at a throw-away PostgreSQL, hosts get
their values from the env file kept on the host. Nothing secret lives in this repository.
"""
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from .dburl import parse_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    return os.environ.get(name, str(default)).strip().lower() in ("1", "true", "yes", "on")


def env_list(name, default):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


ENVIRONMENT = os.environ.get("ENVIRONMENT", "production")
DEBUG = env_bool("DEBUG", False)
# What / and /health/ report; baked in by the Dockerfile's APP_VERSION build arg.
APP_VERSION = os.environ.get("APP_VERSION", "dev")
# Fault injection for the action's end-to-end tests (Dockerfile build arg FAULT): migrate|health|crash|test.
PALLET_FAULT = os.environ.get("PALLET_FAULT", "")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if ENVIRONMENT in ("development", "test"):
        SECRET_KEY = "insecure-example-key-for-" + ENVIRONMENT
    else:
        raise ImproperlyConfigured(
            f"SECRET_KEY is not set (ENVIRONMENT={ENVIRONMENT}): put SECRET_KEY=... in the host's env file"
        )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "*")

# No django.contrib.admin: Debian's python3-django ships the admin's jQuery as a symlink into
# libjs-jquery, which the slim runtime base leaves out, so collectstatic would fail on it.
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "notes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example.urls"
WSGI_APPLICATION = "example.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
            ],
        },
    },
]

# The pallet names first (DB_DEFAULT_URL), then the ecosystem's (DATABASE_URL). Without either, a
# SQLite file under /storage keeps `docker run IMAGE serve` usable on its own for a quick look.
MEDIA_ROOT = os.environ.get("MEDIA_ROOT", "/storage")
MEDIA_URL = "/media/"

DATABASE_URL = (
    os.environ.get("DB_DEFAULT_URL")
    or os.environ.get("DATABASE_URL")
    or "sqlite:///" + os.path.join(MEDIA_ROOT, "example.sqlite3")
)
try:
    DATABASES = {
        "default": parse_database_url(
            DATABASE_URL, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0"))
        )
    }
except ValueError as e:
    raise ImproperlyConfigured(f"DATABASE_URL/DB_DEFAULT_URL: {e}") from None

# Static files are collected into the image when it is built (the Dockerfile runs collectstatic), so
# every host serves the same, tested files. ManifestStaticFilesStorage writes each one under a
# content-hashed name as well (notes.css -> notes.<12 hex>.css) plus staticfiles.json, which
# {% static %} reads: a hashed name never changes content, so the proxy in front can let browsers
# cache it forever (Cache-Control: immutable). Django 3.2 (Debian's python3-django): the
# STATICFILES_STORAGE setting, not STORAGES.
STATIC_ROOT = os.environ.get("STATIC_ROOT", "/static")
STATIC_URL = "/static/"
STATICFILES_STORAGE = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Behind the load balancer / TLS terminator.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Containers log to stdout; Docker (and the action) collect it.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "plain"},
    },
    "root": {"handlers": ["stdout"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Keep request-level 4xx noise of the test client out of the test output.
        "django.request": {"level": "ERROR"},
    },
}

# `manage.py test` writes a JUnit XML report as well as the usual text output.
TEST_RUNNER = "example.testrunner.JUnitDiscoverRunner"
