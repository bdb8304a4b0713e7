"""Production: PostgreSQL, Redis, HTTPS behind a proxy. Refuses the embedded secret key."""

from django.core.exceptions import ImproperlyConfigured

from kura.env import env_bool, env_int
from kura.settings.base import *  # noqa: F403
from kura.settings.base import SECRET_KEY

if SECRET_KEY.startswith("kura-embedded-") or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("KURA_SECRET_KEY must be set to a random value of at least 50 characters")

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("KURA_SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^livez$", r"^readyz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_int("KURA_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("KURA_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("KURA_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    # Preloading is a hard-to-undo commitment for the whole domain: the operator opts in, Kura doesn't.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
