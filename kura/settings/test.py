"""Test settings: the machine's real PostgreSQL and Redis unless the environment says otherwise."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kura")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")

from kura.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve static files straight from the apps, as the browser tests need them without collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405

# Parallel local runs (several checkouts or agents on one machine) each get their own test database.
_suffix = os.environ.get("KURA_TEST_DB_SUFFIX", "")
if _suffix:
    DATABASES["default"]["TEST"] = {"NAME": f"test_kura_{_suffix}"}  # noqa: F405
