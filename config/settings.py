"""Settings for GOMFlow Payments, read from the environment.

With no environment at all the app runs on SQLite, executes Celery tasks eagerly in-process and
keeps files on the local disk, so `make run` works on a fresh clone. Production chooses
PostgreSQL, Redis and S3 through `DATABASE_URL`, `REDIS_URL` and `AWS_STORAGE_BUCKET_NAME`.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

# A development key is only acceptable while DEBUG is on; production must bring its own.
_DEV_SECRET_KEY = "django-insecure-dev-only-key-never-use-in-production-0123456789abcdef"
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "guardian",
    "simple_history",
    "storages",
    "django_celery_beat",
    "core",
    "accounts",
    "audit",
    "outbox",
    "webhooks",
    "wallet",
    "payments",
    "verification",
    "ops",
    # Top of the dependency chain: legacy, fraud → verification → payments → wallet → audit.
    "fraud",
    "legacy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "audit.middleware.AuditContextMiddleware",
    "core.throttling.ApiFailurePenaltyMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# --- Database
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite serialises writers; a busy timeout makes concurrent requests wait instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Only core.prepared's statements are prepared on the server (Django binds parameters on the
    # client). Their plans do not depend on the values, so plan them once, not on every EXECUTE:
    # left to choose, PostgreSQL kept re-planning the queue's rows (0.6 ms of a 5 ms page).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        "-c plan_cache_mode=force_generic_plan"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Users and permissions
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First, so a locked-out address is refused before a password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "accounts:login"
GUARDIAN_RAISE_403 = False
GUARDIAN_RENDER_403 = False
ANONYMOUS_USER_NAME = None

# --- Internationalisation and time
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
# Stored in UTC; shown in the group order's zone (Asia/Manila or Asia/Kuala_Lumpur).
USE_TZ = True
TIME_ZONE = "UTC"

# --- Static and uploaded files
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = "/media/"

AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
            "object_parameters": {"ServerSideEncryption": "AES256"},
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": MEDIA_URL},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Redis, cache and Celery
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "core.cache.SharedClientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="gomflow"),
        }
    }
    # Sessions are read on every signed-in page: from Redis, written through to the database.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Rendered buyer order pages and verification queue frames, in each process's own memory: their
# keys carry everything the page shows (read from the database on every request), so a copy can
# never be stale, and a local read costs microseconds where a Redis round trip costs half a
# millisecond.
CACHES["pages"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "buyer-pages",
    "OPTIONS": {"MAX_ENTRIES": env.int("PAGE_CACHE_MAX_ENTRIES", default=2000)},
}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
# Without a broker the tasks run in-process, so a newcomer needs no worker.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# With late acks a message a dead worker held goes back to the queue after this many seconds.
# Workers sweep for such messages every CELERY_RESTORE_SWEEP_SECONDS.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_SECONDS", default=3600),
    "unacked_restore_interval": env.int("CELERY_RESTORE_SWEEP_SECONDS", default=10),
    "unacked_restore_throttle": 1,
}
CELERY_TIMEZONE = "UTC"
# Schedules are declared in config/celery.py and copied into the database on beat's start,
# where operators can change or pause them in the admin (django-celery-beat).
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
DJANGO_CELERY_BEAT_TZ_AWARE = True

# --- REST framework
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "accounts.authentication.PreparedTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttling.AnonWindowThrottle",
        "core.throttling.UserWindowThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="120/min"),
        "user": env.str("API_THROTTLE_USER", default="1200/min"),
    },
}
# Failed API calls (401/403/404) a client may make in ten minutes before growing penalties.
API_FAILURE_ALLOWANCE = env.int("API_FAILURE_ALLOWANCE", default=20)
SPECTACULAR_SETTINGS = {
    "TITLE": "GOMFlow Payments API",
    "DESCRIPTION": "Verification, payments, wallet credit and refunds for group orders.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Payments domain
# Largest single payment, in minor units per currency (PHP 100,000 and MYR 30,000 by default).
PAYMENT_LIMITS_MINOR = {
    "PHP": env.int("PAYMENT_LIMIT_PHP_MINOR", default=100_000_00),
    "MYR": env.int("PAYMENT_LIMIT_MYR_MINOR", default=30_000_00),
}
TERMS_VERSION = env.str("TERMS_VERSION", default="2026-11")

# --- Fraud checks (fraud app): each hit is a FraudLog row and a flag in the queue, never a block.
# Per buyer, counted over the hour up to the new submission or proof; a hit from limit + 1 on.
FRAUD_MAX_SUBMISSIONS_PER_HOUR = env.int("FRAUD_MAX_SUBMISSIONS_PER_HOUR", default=10)
FRAUD_MAX_PROOFS_PER_HOUR = env.int("FRAUD_MAX_PROOFS_PER_HOUR", default=5)
# A submission above this many minor units is flagged (₱25,000 and RM 2,000 by default, about
# ten times a typical group order; the hard payment limit above still refuses larger ones).
FRAUD_AMOUNT_LIMITS_MINOR = {
    "PHP": env.int("FRAUD_AMOUNT_LIMIT_PHP_MINOR", default=25_000_00),
    "MYR": env.int("FRAUD_AMOUNT_LIMIT_MYR_MINOR", default=2_000_00),
}

# --- Security
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
# Only for the file backend (tests of real workers read what they sent).
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / "sent-mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="GOMFlow Payments <no-reply@localhost>")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # django-axes announces itself at INFO on every start; failures still log at WARNING.
    "loggers": {"axes": {"level": "WARNING"}},
}

# History is for reading; reverting a money or state row from the admin would bypass services.
SIMPLE_HISTORY_REVERT_DISABLED = True

# --- Operations: health thresholds
# A proof waiting longer than this for a decision counts as stuck.
VERIFICATION_SLA_HOURS = env.int("VERIFICATION_SLA_HOURS", default=24)
ALERT_STUCK_PAYMENTS_MAX = env.int("ALERT_STUCK_PAYMENTS_MAX", default=5)
# An analysis still pending after this long is queued again (three times), then left to people.
ANALYSIS_STUCK_MINUTES = env.int("ANALYSIS_STUCK_MINUTES", default=10)
# Buyers are reminded this long before the payment deadline; unpaid ones expire this long after.
PAYMENT_REMINDER_HOURS = env.int("PAYMENT_REMINDER_HOURS", default=24)
PAYMENT_GRACE_HOURS = env.int("PAYMENT_GRACE_HOURS", default=12)
ADMINS = [("Operators", address) for address in env.list("OPERATOR_EMAILS", default=[])]
ALERT_SUCCESS_RATE_MIN = env.float("ALERT_SUCCESS_RATE_MIN", default=0.90)
ALERT_WEBHOOK_FAILURE_RATE_MAX = env.float("ALERT_WEBHOOK_FAILURE_RATE_MAX", default=0.05)
# The daily metrics roll-up counts calendar days in this zone (Manila and KL are both UTC+8).
METRICS_TIME_ZONE = env.str("METRICS_TIME_ZONE", default="Asia/Manila")
# Lets a monitor read /api/health/payments without a staff session; empty disables it.
HEALTH_TOKEN = env.str("HEALTH_TOKEN", default="")

# --- Abuse protection: failed logins (django-axes) and the content security policy
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)  # hours
# Lock the pair (account, address): one attacker cannot lock a buyer out from everywhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Both login forms post the e-mail address as "username" (Django's AuthenticationForm).
AXES_USERNAME_FORM_FIELD = "username"
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_ENABLE_ADMIN = True

from csp.constants import NONE, SELF  # noqa: E402 - grouped with the policy it builds

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "script-src": [SELF],
        "style-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Buyer pages and e-mail
# Absolute links in e-mails point here.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- Money core (payments.money, wallet)
# API Idempotency-Keys are kept at least this long (never less than 24 hours) before the purge.
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=48)

# --- Payment proofs and the smart agent (verification app)
# Largest upload accepted, and the largest image (in pixels) decoded; a bigger header is refused
# before any pixel is decoded, which is what makes decompression bombs cheap to refuse.
PROOF_MAX_BYTES = env.int("PROOF_MAX_BYTES", default=10 * 1024 * 1024)
PROOF_MAX_PIXELS = env.int("PROOF_MAX_PIXELS", default=50_000_000)
# Proof bytes never live under MEDIA_ROOT (which a web server may publish); with S3 they go to the
# same private bucket under "proofs/" with server-side encryption on top of ours.
PROOF_STORAGE_ROOT = env.path(
    "PROOF_STORAGE_ROOT", default=Path(MEDIA_ROOT).parent / "private-proofs"
)
# AES-256-GCM key ring, newest first, each "key-id:base64 of 32 bytes". The first key encrypts,
# every key decrypts, so rotating is: put the new key first and keep the old ones. Empty: one key
# derived from SECRET_KEY (fine for development; `check --deploy` warns about it).
PROOF_ENCRYPTION_KEYS = env.list("PROOF_ENCRYPTION_KEYS", default=[])
# ClamAV daemon socket (unix path, or host:port). Empty: uploads proceed and are marked unscanned.
PROOF_CLAMD_SOCKET = env.str("PROOF_CLAMD_SOCKET", default="")
PROOF_CLAMD_TIMEOUT_SECONDS = env.float("PROOF_CLAMD_TIMEOUT_SECONDS", default=15.0)
# Upload flood guard: at most this many upload attempts per buyer per window.
PROOF_UPLOAD_RATE_LIMIT = env.int("PROOF_UPLOAD_RATE_LIMIT", default=10)
PROOF_UPLOAD_RATE_WINDOW_SECONDS = env.int("PROOF_UPLOAD_RATE_WINDOW_SECONDS", default=600)
# The smart agent: hard time budget per proof, and the confidence at which it suggests approval.
PROOF_AGENT_TIME_LIMIT_SECONDS = env.int("PROOF_AGENT_TIME_LIMIT_SECONDS", default=30)
PROOF_AGENT_APPROVE_THRESHOLD = env.float("PROOF_AGENT_APPROVE_THRESHOLD", default=0.70)
STORAGES["proofs"] = {"BACKEND": "verification.storage.EncryptedStorage", "OPTIONS": {}}
# A proof's file is deleted this many days after the final decision on it (its hashes and the
# amounts stay); the daily purge deletes at most PROOF_PURGE_BATCH_SIZE files per run.
PROOF_RETENTION_DAYS = env.int("PROOF_RETENTION_DAYS", default=180)
PROOF_PURGE_BATCH_SIZE = env.int("PROOF_PURGE_BATCH_SIZE", default=500)

# --- Outgoing webhooks
# Webhook URLs must resolve to public addresses (no SSRF into our network) unless this is set,
# as the tests do for a receiver on 127.0.0.1.
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", default=False)

# --- Outbox
# How long a worker holds a message it is delivering before another may retry it.
OUTBOX_CLAIM_SECONDS = env.int("OUTBOX_CLAIM_SECONDS", default=300)

# --- Verification dashboard (queue, live count)
# The live queue count (Server-Sent Events): how often to re-count without Redis, and how long
# one stream lasts before the browser reconnects (which frees the worker).
VERIFICATION_STREAM_POLL_SECONDS = env.float("VERIFICATION_STREAM_POLL_SECONDS", default=0.5)
VERIFICATION_STREAM_MAX_SECONDS = env.int("VERIFICATION_STREAM_MAX_SECONDS", default=300)

# --- Finance: statement import, reconciliation, exports (payments.reconciliation)
# Statement lines are inserted in batches of this size; each commits and moves the progress bar.
STATEMENT_IMPORT_BATCH_SIZE = env.int("STATEMENT_IMPORT_BATCH_SIZE", default=2000)
# Pause between import batches, to leave the database room for other work during a huge import.
STATEMENT_IMPORT_BATCH_PAUSE_SECONDS = env.float("STATEMENT_IMPORT_BATCH_PAUSE_SECONDS", default=0)
# Files with more good rows than this import in a Celery task (progress bar); smaller ones at once.
STATEMENT_IMPORT_INLINE_MAX_ROWS = env.int("STATEMENT_IMPORT_INLINE_MAX_ROWS", default=2000)
# Largest statement file accepted for upload.
STATEMENT_MAX_BYTES = env.int("STATEMENT_MAX_BYTES", default=50 * 1024 * 1024)
# A payment and a statement line this many days apart can still be the same money.
RECONCILIATION_DATE_WINDOW_DAYS = env.int("RECONCILIATION_DATE_WINDOW_DAYS", default=3)
# Statement lines per committed batch of a reconciliation run, and an optional pause between them.
RECONCILIATION_BATCH_SIZE = env.int("RECONCILIATION_BATCH_SIZE", default=500)
RECONCILIATION_BATCH_PAUSE_SECONDS = env.float("RECONCILIATION_BATCH_PAUSE_SECONDS", default=0)
# A run whose account has more open discrepancies than this raises an alert (error log + audit).
RECONCILIATION_ALERT_THRESHOLD = env.int("RECONCILIATION_ALERT_THRESHOLD", default=10)
# Imported statement files (payers' names, account numbers): private storage, never under
# MEDIA_ROOT; with S3 they go to the private bucket like every other file.
STATEMENT_STORAGE_ROOT = env.path(
    "STATEMENT_STORAGE_ROOT", default=Path(MEDIA_ROOT).parent / "private-statements"
)
STORAGES["statements"] = (
    STORAGES["default"]
    if AWS_STORAGE_BUCKET_NAME
    else {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": STATEMENT_STORAGE_ROOT},
    }
)
