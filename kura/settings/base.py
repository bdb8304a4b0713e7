"""Kura settings: every value comes from an environment variable listed in README.md."""

from datetime import timedelta
from pathlib import Path

from kura.env import database_from_url, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = Path(env_str("KURA_DATA_DIR", str(BASE_DIR / "var")))

# The embedded default key is only good for a laptop; production.py refuses to start without a real one.
SECRET_KEY = env_str("KURA_SECRET_KEY", "kura-embedded-insecure-key-change-me")
DEBUG = env_bool("KURA_DEBUG", False)
ALLOWED_HOSTS = env_list("KURA_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("KURA_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "access",
    "catalog",
    "annotations",
    "storage",
    "lineage",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "kura.middleware.reject_nul_bytes",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "kura.urls"
WSGI_APPLICATION = "kura.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# The embedded database lives with the rest of the embedded stack's state, in KURA_DATA_DIR.
DATABASES = {"default": database_from_url(env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'kura.sqlite3'}"), BASE_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "access.backends.ActivePersonBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "frontend:dataset-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("KURA_STATIC_ROOT", str(DATA_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = Path(env_str("KURA_MEDIA_ROOT", str(DATA_DIR / "media")))
MEDIA_URL = "/media/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "access.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["access.api.permissions.TokenScopePermission"],
    "DEFAULT_PAGINATION_CLASS": "kura.api.pagination.KuraPageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "kura.api.errors.json_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["kura.api.parsers.LimitedJSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Kura API",
    "DESCRIPTION": "Dataset catalog lookups for people and CI. Authenticate with `Authorization: Bearer <token>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "catalog.api.schema.dataset_path_formats",
    ],
    "ENUM_NAME_OVERRIDES": {
        "DatasetStatusEnum": "catalog.models.Dataset.Status",
        "VersionStatusEnum": "catalog.models.DatasetVersion.Status",
        "PersonStatusEnum": "access.models.Person.Status",
        "ConsumerKindEnum": "lineage.models.Consumer.Kind",
        "ModelStageEnum": "lineage.models.ModelVersion.Stage",
        "TrainingRunStatusEnum": "lineage.models.TrainingRun.Status",
        "StorageConnectionKindEnum": "storage.models.StorageConnection.Kind",
        "FindingKindEnum": "storage.models.Finding.Kind",
        "FindingStatusEnum": "storage.models.Finding.Status",
        "ScanRunStatusEnum": "storage.models.ScanRun.Status",
    },
}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
_BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "control_folder": str(_BROKER_DIR / "control"),
        "processed_folder": str(_BROKER_DIR / "processed"),
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": 3600}
)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("KURA_CELERY_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "verify-storage-locations": {
        "task": "catalog.tasks.verify_all_locations",
        "schedule": timedelta(minutes=env_int("KURA_VERIFY_LOCATIONS_EVERY_MINUTES", 30)),
    },
}

EMAIL_BACKEND = env_str("KURA_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("KURA_DEFAULT_FROM_EMAIL", "kura@localhost")
# Mail goes out from the request that made the decision: an unanswering server may hold it this long, not forever.
EMAIL_TIMEOUT = env_int("KURA_EMAIL_TIMEOUT_SECONDS", 10)
EMAIL_HOST = env_str("KURA_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("KURA_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("KURA_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("KURA_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("KURA_EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("KURA_EMAIL_USE_SSL", False)

# Catalog limits: refuse instead of half-writing or exhausting memory.
KURA_MANIFEST_MAX_FILES = env_int("KURA_MANIFEST_MAX_FILES", 200_000)
KURA_API_MAX_BODY_BYTES = env_int("KURA_API_MAX_BODY_BYTES", 64 * 1024 * 1024)
KURA_TOKEN_DEFAULT_DAYS = env_int("KURA_TOKEN_DEFAULT_DAYS", 90)
KURA_TOKEN_MAX_DAYS = env_int("KURA_TOKEN_MAX_DAYS", 730)
# Allow-listed roots that file:// locations may be checked under; empty means "do not touch the disk".
KURA_LOCAL_ROOTS = env_list("KURA_LOCAL_ROOTS", [])
DATA_UPLOAD_MAX_MEMORY_SIZE = KURA_API_MAX_BODY_BYTES
# Largest image accepted for a correction example (uploaded through the browser).
KURA_UPLOAD_MAX_BYTES = env_int("KURA_UPLOAD_MAX_BYTES", 5 * 1024 * 1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("KURA_LOG_LEVEL", "INFO")},
}

# Access workflow
KURA_REQUEST_ESCALATE_AFTER_DAYS = env_int("KURA_REQUEST_ESCALATE_AFTER_DAYS", 3)
KURA_REQUEST_DEADLINE_DAYS = env_int("KURA_REQUEST_DEADLINE_DAYS", 14)
KURA_GRANT_MAX_DAYS = env_int("KURA_GRANT_MAX_DAYS", 365)
KURA_MOVER_GRACE_DAYS = env_int("KURA_MOVER_GRACE_DAYS", 14)
KURA_GOVERNANCE_GROUP = env_str("KURA_GOVERNANCE_GROUP", "Catalog governance")
KURA_BASE_URL = env_str("KURA_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
CELERY_BEAT_SCHEDULE.update(
    {
        "escalate-access-requests": {"task": "access.tasks.escalate_requests", "schedule": timedelta(hours=1)},
        "expire-access-requests": {"task": "access.tasks.expire_requests", "schedule": timedelta(hours=1)},
        "record-grant-expiries": {"task": "access.tasks.record_grant_expiries", "schedule": timedelta(minutes=10)},
        "end-mover-grace": {"task": "access.tasks.end_mover_grace", "schedule": timedelta(hours=6)},
    }
)

# Storage scanning
# Private, loopback and link-local endpoints are refused unless a network listed here covers them (e.g.
# "10.0.0.0/8,127.0.0.1"); cloud metadata addresses additionally need to be listed as a single address.
KURA_STORAGE_ALLOW_PRIVATE_ENDPOINTS = env_list("KURA_STORAGE_ALLOW_PRIVATE_ENDPOINTS", [])
KURA_SCAN_CHECKPOINT_EVERY = env_int("KURA_SCAN_CHECKPOINT_EVERY", 20000)
KURA_SCAN_AGGREGATE_MAX_DEPTH = env_int("KURA_SCAN_AGGREGATE_MAX_DEPTH", 4)
KURA_SCAN_SHARD_MAX_ATTEMPTS = env_int("KURA_SCAN_SHARD_MAX_ATTEMPTS", 3)
KURA_SCAN_LEASE_SECONDS = env_int("KURA_SCAN_LEASE_SECONDS", 120)
# A DVC remote is split into a shard per hash directory (512) unless its last complete scan found at most this
# many objects: then one worker lists it as one shard, with far fewer listing requests and checkpoints.
KURA_SCAN_DVC_SPLIT_ABOVE = env_int("KURA_SCAN_DVC_SPLIT_ABOVE", 250_000)
# A re-scan of a local DVC remote counts a hash directory from its last listing when neither the directory (nor
# any above it) nor the history classifying it changed (storage.dvc.folder_reuse). A directory whose timestamps
# were this close to the moment it was looked at has its names read again before reuse (coarse clocks, skew).
KURA_SCAN_DVC_REUSE_FOLDERS = env_bool("KURA_SCAN_DVC_REUSE_FOLDERS", True)
KURA_SCAN_DVC_REUSE_MARGIN_SECONDS = env_int("KURA_SCAN_DVC_REUSE_MARGIN_SECONDS", 2)
KURA_SCAN_DVC_REUSE_MAX_AGE_HOURS = env_int("KURA_SCAN_DVC_REUSE_MAX_AGE_HOURS", 24)
KURA_S3_MAX_ATTEMPTS = env_int("KURA_S3_MAX_ATTEMPTS", 8)
CELERY_BEAT_SCHEDULE["scan-due-connections"] = {
    "task": "storage.tasks.scan_due_connections",
    "schedule": timedelta(minutes=env_int("KURA_SCAN_SCHEDULER_EVERY_MINUTES", 5)),
}
CELERY_BEAT_SCHEDULE["resume-stalled-scans"] = {
    "task": "storage.tasks.resume_stalled_scans",
    "schedule": timedelta(minutes=env_int("KURA_SCAN_SCHEDULER_EVERY_MINUTES", 5)),
}

# Training repositories: where their bare git mirrors live.
KURA_REPO_MIRROR_ROOT = Path(env_str("KURA_REPO_MIRROR_ROOT", str(DATA_DIR / "repos")))
# A run that has held a repository this long is presumed dead (worker killed) and may be taken over.
KURA_REPO_INDEX_STALE_SECONDS = env_int("KURA_REPO_INDEX_STALE_SECONDS", 6 * 3600)
CELERY_BEAT_SCHEDULE["index-training-repos"] = {
    "task": "storage.tasks.index_all_training_repos",
    "schedule": timedelta(minutes=env_int("KURA_REPO_INDEX_EVERY_MINUTES", 60)),
}
