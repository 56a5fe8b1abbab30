"""Django settings for Kring.

Everything that differs between a laptop and production comes from the environment:
DATABASE_URL, REDIS_URL, KRING_SECRET_KEY, KRING_ENCRYPTION_KEYS, KRING_DEBUG, … (see
docs/OPERATIONS.md). Without them Kring runs as the embedded demo: SQLite and generated
keys under the git-ignored ``var/`` folder.
"""

import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from kring.core.secrets import load_or_create_secret

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("KRING_VAR_DIR", BASE_DIR / "var"))

DEBUG = os.environ.get("KRING_DEBUG", "1") == "1"
TESTING = os.environ.get("KRING_TESTING") == "1" or "pytest" in sys.modules

if not DEBUG and not (os.environ.get("KRING_SECRET_KEY") and os.environ.get("KRING_ENCRYPTION_KEYS")):
    # Production never generates keys: keys made per machine would differ between app servers and
    # workers (data encrypted on one could not be read on another) and be missing from the backups.
    raise ImproperlyConfigured("With KRING_DEBUG=0, set KRING_SECRET_KEY and KRING_ENCRYPTION_KEYS.")
SECRET_KEY = os.environ.get("KRING_SECRET_KEY") or load_or_create_secret(VAR_DIR / "secret_key.txt", "django")
# Comma-separated Fernet keys; the first encrypts, all decrypt (key rotation).
ENCRYPTION_KEYS = [
    key.strip()
    for key in (
        os.environ.get("KRING_ENCRYPTION_KEYS")
        or load_or_create_secret(VAR_DIR / "encryption_key.txt", "fernet")
    ).split(",")
    if key.strip()
]

ALLOWED_HOSTS = [h for h in os.environ.get("KRING_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("KRING_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "kring.core",
    "kring.members",
    "kring.billing",
    "kring.sepa",
    "kring.backoffice",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "django_rq",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "kring.core.middleware.StaffSecondFactorMiddleware",
]

ROOT_URLCONF = "kring.urls"
WSGI_APPLICATION = "kring.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "kring" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "kring.core.context_processors.association",
            ],
            # Tests fail on undefined template variables (see kring/conftest.py).
            "string_if_invalid": "",
        },
    }
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'kring.sqlite3'}",
        conn_max_age=int(os.environ.get("KRING_DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the worker write while the web server reads; IMMEDIATE avoids
        # "database is locked" upgrades inside transactions.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["TEST"] = (
        {"NAME": os.environ.get("KRING_TEST_SQLITE_NAME", "")}
        if os.environ.get("KRING_TEST_SQLITE_NAME")
        else {}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REDIS_URL = os.environ.get("REDIS_URL", "")

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
elif TESTING:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    # Shared between web server and worker processes without an extra server.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "kring_cache"}
    }

# Background tasks: the database backend by default (no extra server), RQ on Redis in production.
TASK_BACKEND = os.environ.get("KRING_TASK_BACKEND", "database")
if TASK_BACKEND == "rq":
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
elif TASK_BACKEND == "immediate":
    TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
RQ_QUEUES = {"default": {"URL": REDIS_URL or "redis://127.0.0.1:6379/0", "DEFAULT_TIMEOUT": 3600}}
# A job whose worker has not reported for this long is considered lost and is run again.
KRING_JOB_STALE_AFTER_SECONDS = int(os.environ.get("KRING_JOB_STALE_AFTER_SECONDS", "120"))

# Where members reach Kring: payment links in invoice emails and PDFs, and the addresses the
# payment provider sends members back to and calls its webhook on. No trailing slash.
KRING_BASE_URL = os.environ.get("KRING_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# Online payment through Mollie (BillingSettings.online_provider = "mollie"): the live_… or test_… key.
MOLLIE_API_KEY = os.environ.get("KRING_MOLLIE_API_KEY", "")

# Login: django-allauth (settings checked against allauth 65.x). Only existing members and staff
# get in: no public sign-up (kring.core.auth.KringAccountAdapter).
ACCOUNT_ADAPTER = "kring.core.auth.KringAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "optional"
# A one-time code by email instead of a password: six digits are easy to type over from a phone,
# valid ten minutes, three tries per code.
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_BY_CODE_FORMAT = {"numeric": True, "length": 6, "dashed": False}
ACCOUNT_LOGIN_BY_CODE_TIMEOUT = 10 * 60
ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS = 3
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_SESSION_REMEMBER = None
# Counted in the cache (shared Redis in production). "5/5m/key": after five wrong passwords for one
# email address, that address cannot log in for five minutes, not even with the right password.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "20/5m/ip,5/5m/key",
    "request_login_code": "10/5m/ip,3/5m/key",
    "reset_password": "10/m/ip,3/5m/key",
}
# Behind a load balancer the client address is in X-Forwarded-For; count only the proxies we run.
ALLAUTH_TRUSTED_PROXY_COUNT = int(os.environ.get("KRING_TRUSTED_PROXY_COUNT", "0"))
ACCOUNT_LOGOUT_ON_GET = False
LOGIN_REDIRECT_URL = "home"
LOGIN_URL = "account_login"
MFA_ADAPTER = "kring.core.auth.KringMFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Kring"
# allauth refuses a second factor while the email address is unconfirmed, against someone signing
# up with another person's address and locking them out. Kring has no sign-up: the association
# created the account with an address it knows.
MFA_ALLOW_UNVERIFIED_EMAIL = True
# Staff must set up a second factor before they reach the back office (see core.middleware).
KRING_STAFF_REQUIRE_MFA = os.environ.get("KRING_STAFF_REQUIRE_MFA", "1") == "1"

LANGUAGE_CODE = "nl"
LANGUAGES = [("nl", _("Dutch")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Amsterdam"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("KRING_STATIC_ROOT", BASE_DIR / "staticfiles"))
if DEBUG or TESTING:
    # Serve straight from the source folders; production runs collectstatic (docs/OPERATIONS.md).
    WHITENOISE_USE_FINDERS = True
    WHITENOISE_AUTOREFRESH = True

MEDIA_ROOT = VAR_DIR / "media"

EMAIL_BACKEND = os.environ.get("KRING_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("KRING_EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("KRING_EMAIL_PORT", "1025"))
EMAIL_HOST_USER = os.environ.get("KRING_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("KRING_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("KRING_EMAIL_USE_TLS", "0") == "1"
EMAIL_USE_SSL = os.environ.get("KRING_EMAIL_USE_SSL", "0") == "1"
EMAIL_TIMEOUT = 30
DEFAULT_FROM_EMAIL = os.environ.get("KRING_DEFAULT_FROM_EMAIL", "Kring <noreply@kring.test>")
if DEBUG and "KRING_EMAIL_BACKEND" not in os.environ:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    # Production: TLS ends at the load balancer, which must set X-Forwarded-Proto (and strip any
    # value the client sent). See docs/OPERATIONS.md, "Security settings".
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = os.environ.get("KRING_SSL_REDIRECT", "1") == "1"
    # The load balancer's health check asks over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = int(os.environ.get("KRING_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = os.environ.get("KRING_HSTS_INCLUDE_SUBDOMAINS", "0") == "1"
    SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("KRING_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
