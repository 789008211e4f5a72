"""Settings for the Customer Portal, read from the environment.

Every variable is documented in docs/configuration.md. The defaults give a
working development portal (SQLite and local files under ``var/``); with
``PORTAL_ENV=production`` there is no default for secrets and the security
settings are switched on.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from portal.accounts.oidc.config import (
    form_action_origins,
    parse_providers,
    socialaccount_providers,
)

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


PORTAL_ENV = env_str("PORTAL_ENV", "development").lower()
if PORTAL_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(
        f"PORTAL_ENV must be 'development' or 'production', not {PORTAL_ENV!r}."
    )
PRODUCTION = PORTAL_ENV == "production"
DEBUG = env_bool("PORTAL_DEBUG", False) and not PRODUCTION

DATA_DIR = Path(env_str("PORTAL_DATA_DIR") or BASE_DIR / "var").resolve()


# --- Secret key -------------------------------------------------------------

SECRET_KEY_HINT = "Generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(64))'"  # noqa: S105 - advice, not a key


def _strong_secret(value: str) -> bool:
    # The same bar as Django's own deployment check (security.W009).
    return len(value) >= 50 and len(set(value)) >= 5 and not value.startswith("django-insecure-")


def _development_secret_key() -> str:
    """A random key kept under the data directory, so sessions survive a restart."""
    path = DATA_DIR / "secret-key"
    if path.exists():
        return path.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(64)
    path.write_text(key)
    path.chmod(0o600)
    return key


SECRET_KEY = env_str("SECRET_KEY")
if PRODUCTION:
    if not SECRET_KEY:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. PORTAL_ENV=production needs a random SECRET_KEY of at "
            f"least 50 characters. {SECRET_KEY_HINT}"
        )
    if not _strong_secret(SECRET_KEY):
        raise ImproperlyConfigured(
            "SECRET_KEY is too weak for PORTAL_ENV=production: it needs at least 50 "
            f"characters with at least 5 different ones. {SECRET_KEY_HINT}"
        )
elif not SECRET_KEY:
    SECRET_KEY = _development_secret_key()
# Rotation: the new key signs, the old ones (comma-separated) still verify sessions,
# reset links and second-factor secrets until they are dropped from this list.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])


# --- Hosts ------------------------------------------------------------------

if PRODUCTION:
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS is not set. With PORTAL_ENV=production list the host names the "
            "portal answers to, separated by commas, e.g. ALLOWED_HOSTS=portal.example.com"
        )
else:
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
PORTAL_BASE_URL = env_str("PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
if env_bool("PORTAL_TRUST_PROXY", False):
    # Only behind a proxy that sets this header itself and strips it from clients.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


# --- Applications -----------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "portal.core",
    "portal.accounts",
    "portal.customers",
    "portal.live",
    "portal.tokens",
    "portal.apikit",
    "portal.documents",
    "portal.servicedesk",
    "portal.billing",
    "django_tasks",
    "django_tasks_db",
    "portal.content",
]

MIDDLEWARE = [
    # Outermost: counts and times every answer, the static files' included.
    "portal.core.metrics.MetricsMiddleware",
    "portal.core.middleware.RequestLogMiddleware",
    "portal.apikit.middleware.ApiHttpsOnlyMiddleware",  # before the HTTPS redirect
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, reading the user's version together with the session.
    "portal.accounts.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "portal.accounts.middleware.SessionLimitsMiddleware",
    "portal.accounts.middleware.ClearSiteDataOnSignOutMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "portal.accounts.middleware.UserLanguageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.core.csp.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.accounts.middleware.SessionActivityMiddleware",
    "portal.accounts.middleware.RequireMFAMiddleware",
    "portal.core.middleware.PrivatePageCacheMiddleware",
    "portal.core.middleware.RefuseNulInPathMiddleware",
]

# Sessions are read from the cache (Redis in production) and written through to
# the database, so a page view costs no session query: Django's cached_db, with a
# known session's row written in one statement (portal/accounts/session_store.py).
SESSION_ENGINE = "portal.accounts.session_store"
# Messages ride in the session: no extra cookie (whose deletion Django would
# send without the Secure flag).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "portal" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "portal.core.context_processors.portal",
                "portal.customers.context_processors.active_customer",
                "portal.live.context_processors.live",
                "portal.documents.context_processors.documents",
                "portal.billing.context_processors.billing",
            ],
        },
    },
]


# --- Database ---------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'portal.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        # WAL lets readers carry on while one writer commits; IMMEDIATE takes the
        # write lock at BEGIN so concurrent writers wait instead of failing.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not memory: browser tests reach the test database from the
    # portal's server threads.
    _db["TEST"] = {"NAME": str(DATA_DIR / "test-portal.sqlite3")}
elif _db["ENGINE"] == "django.db.backends.postgresql":
    _db["CONN_MAX_AGE"] = 0
    # A connection is checked as it leaves the pool, so the portal recovers by
    # itself when the database comes back after an outage.
    _db["CONN_HEALTH_CHECKS"] = True
    _db["OPTIONS"] = {
        "pool": {
            "min_size": env_int("PORTAL_DB_POOL_MIN", 1),
            "max_size": env_int("PORTAL_DB_POOL_MAX", 10),
            # How long a request waits for a connection before it answers 503.
            "timeout": env_int("PORTAL_DB_POOL_TIMEOUT", 5),
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# --- Accounts ---------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "core:dashboard"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if PRODUCTION else "http"
ACCOUNT_LOGOUT_REDIRECT_URL = "core:home"
ACCOUNT_ADAPTER = "portal.accounts.adapters.AccountAdapter"
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
# Failed sign-ins: at most 5 per account in 5 minutes and 20 per IP a minute;
# the block lifts by itself when the window has passed, there is no lock-out.
ACCOUNT_RATE_LIMITS = {
    "login_failed": env_str("PORTAL_LOGIN_FAILED_LIMIT", "20/m/ip,5/300s/key"),
}
# Changing the account's e-mail addresses asks for the password (or a passkey)
# again when the last sign-in is older than five minutes.
ACCOUNT_REAUTHENTICATION_REQUIRED = True
ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
# Named, not left to allauth's default: since 65.22 that also offers a code sent by
# e-mail, which would let whoever reads the mailbox of a hijacked session pass.
ACCOUNT_REAUTHENTICATION_METHODS = ("password", "mfa")

MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_ADAPTER = "portal.accounts.adapters.MFAAdapter"  # second-factor secrets encrypted at rest
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = env_str("PORTAL_NAME", "Customer Portal")
# Accept the code of the neighbouring 30-second step too: phones drift.
MFA_TOTP_TOLERANCE = 1
# WebAuthn insists on HTTPS except for localhost; development serves plain HTTP.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = not PRODUCTION
# Activity is tracked by portal.accounts.middleware.SessionActivityMiddleware,
# which writes at most every few minutes per session (a twelfth of the idle limit).
USERSESSIONS_TRACK_ACTIVITY = False
USERSESSIONS_ADAPTER = "portal.accounts.adapters.UserSessionsAdapter"

# Sign-in through the organisation's identity providers (OpenID Connect), all
# configured by PORTAL_OIDC_PROVIDERS; nothing is kept in the database.
PORTAL_OIDC_PROVIDERS = parse_providers(env_str("PORTAL_OIDC_PROVIDERS"), production=PRODUCTION)
SOCIALACCOUNT_PROVIDERS = socialaccount_providers(PORTAL_OIDC_PROVIDERS)
SOCIALACCOUNT_ADAPTER = "portal.accounts.adapters.SocialAccountAdapter"
# A first provider sign-in joins an existing account only when the provider
# asserts email_verified and the address is verified here (the adapter checks
# both); then the provider is linked to that account for next time.
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_EMAIL_REQUIRED = True
SOCIALACCOUNT_AUTO_SIGNUP = True
# Starting a provider sign-in takes a POST (with the CSRF token), never a GET.
SOCIALACCOUNT_LOGIN_ON_GET = False
# The provider's access and refresh tokens are not needed after sign-in.
SOCIALACCOUNT_STORE_TOKENS = False

# Every customer user must enrol a second factor (OWASP ASVS 5.0 level 2).
# A customer admin can also require it for their own organisation.
PORTAL_REQUIRE_MFA = env_bool("PORTAL_REQUIRE_MFA", False)
# Sign out after this much inactivity, and this long after sign-in whatever happens.
PORTAL_SESSION_IDLE_TIMEOUT = env_int("PORTAL_SESSION_IDLE_TIMEOUT", 3600)
PORTAL_SESSION_MAX_AGE = env_int("PORTAL_SESSION_MAX_AGE", 86400)
SESSION_COOKIE_AGE = PORTAL_SESSION_MAX_AGE
PORTAL_INVITATION_DAYS = env_int("PORTAL_INVITATION_DAYS", 7)


# --- Service requests --------------------------------------------------------------

# A customer may reopen a resolved request for this many days after its resolution.
PORTAL_REOPEN_DAYS = env_int("PORTAL_REOPEN_DAYS", 14)
# The largest file a customer or staff may attach to a request or comment.
PORTAL_REQUEST_ATTACHMENT_MAX_MB = env_int("PORTAL_REQUEST_ATTACHMENT_MAX_MB", 10)


# --- Sessions, cookies and security headers ----------------------------------

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True  # set by the language form, read only by the server
LANGUAGE_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # The __Host- prefix binds the cookie to this exact host over HTTPS.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    # The language chosen before signing in: same rules, though it holds no secret.
    LANGUAGE_COOKIE_NAME = "__Host-language"
    LANGUAGE_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("PORTAL_SSL_REDIRECT", True)
    # Probes talk plain HTTP to the node, from inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # The preload directive only permits submission to browsers' preload lists.
    SECURE_HSTS_PRELOAD = env_bool("PORTAL_HSTS_PRELOAD", True)

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        # Pico draws its form icons as data: SVG images.
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        # "Sign in with ..." and "Sign out" answer with a redirect to the
        # identity provider, which form-action covers too.
        "form-action": [SELF, *form_action_origins(PORTAL_OIDC_PROVIDERS)],
        "frame-ancestors": [NONE],
        "object-src": [NONE],
        "base-uri": [NONE],
    }
}


# --- Static files -------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("PORTAL_STATIC_ROOT") or DATA_DIR / "static")
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Hashed names never change content, so browsers may keep them for a year.
WHITENOISE_MAX_AGE = 31_536_000


# --- Documents ----------------------------------------------------------------

# Where uploaded documents live: "local" (files under PORTAL_DOCUMENT_ROOT, never
# served directly) or "s3" (any S3-compatible object store, via django-storages).
PORTAL_DOCUMENT_STORAGE = env_str("PORTAL_DOCUMENT_STORAGE", "local")
if PORTAL_DOCUMENT_STORAGE == "local":
    STORAGES["documents"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": str(Path(env_str("PORTAL_DOCUMENT_ROOT") or DATA_DIR / "documents")),
            "base_url": None,
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }
elif PORTAL_DOCUMENT_STORAGE == "s3":
    if not env_str("PORTAL_S3_BUCKET"):
        raise ImproperlyConfigured("PORTAL_DOCUMENT_STORAGE=s3 needs PORTAL_S3_BUCKET.")
    STORAGES["documents"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("PORTAL_S3_BUCKET"),
            "endpoint_url": env_str("PORTAL_S3_ENDPOINT_URL") or None,
            "region_name": env_str("PORTAL_S3_REGION") or None,
            # Empty: boto3 finds credentials itself (AWS_* variables, instance role).
            "access_key": env_str("PORTAL_S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("PORTAL_S3_SECRET_ACCESS_KEY") or None,
            "addressing_style": env_str("PORTAL_S3_ADDRESSING_STYLE") or None,
            "signature_version": "s3v4",
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }
else:
    raise ImproperlyConfigured(
        f"PORTAL_DOCUMENT_STORAGE must be 'local' or 's3', not {PORTAL_DOCUMENT_STORAGE!r}."
    )

PORTAL_DOCUMENT_MAX_BYTES = env_int("PORTAL_DOCUMENT_MAX_BYTES", 25 * 1024 * 1024)
PORTAL_DOCUMENT_QUOTA_BYTES = env_int("PORTAL_DOCUMENT_QUOTA_BYTES", 1024 * 1024 * 1024)
PORTAL_DOCUMENT_TYPES = env_list(
    "PORTAL_DOCUMENT_TYPES",
    [
        "pdf",
        "png",
        "jpeg",
        "gif",
        "webp",
        "text",
        "csv",
        "docx",
        "xlsx",
        "pptx",
        "odt",
        "ods",
        "zip",
    ],
)
PORTAL_DOCUMENT_TRASH_DAYS = env_int("PORTAL_DOCUMENT_TRASH_DAYS", 30)
# Stored files that no version refers to (an upload cut off by a crash) are
# removed by the purge once they are this old, so uploads in flight are safe.
PORTAL_DOCUMENT_ORPHAN_HOURS = env_int("PORTAL_DOCUMENT_ORPHAN_HOURS", 24)

# Virus scanning: clamd when PORTAL_CLAMD_SOCKET names its socket (a path, or
# tcp://host:port), else none. Files not (yet) found clean are downloadable
# only with PORTAL_SCAN_POLICY=allow; infected ones never.
PORTAL_CLAMD_SOCKET = env_str("PORTAL_CLAMD_SOCKET")
PORTAL_SCANNER = (
    {
        "BACKEND": "portal.documents.scanners.clamd.ClamdScanner",
        "OPTIONS": {
            "address": PORTAL_CLAMD_SOCKET,
            "timeout": float(env_str("PORTAL_CLAMD_TIMEOUT", "60")),
        },
    }
    if PORTAL_CLAMD_SOCKET
    else {"BACKEND": "portal.documents.scanners.none.NoScanner", "OPTIONS": {}}
)
PORTAL_SCAN_POLICY = env_str("PORTAL_SCAN_POLICY", "hold" if PRODUCTION else "allow")
if PORTAL_SCAN_POLICY not in {"allow", "hold"}:
    raise ImproperlyConfigured(
        f"PORTAL_SCAN_POLICY must be 'allow' or 'hold', not {PORTAL_SCAN_POLICY!r}."
    )


# --- E-mail -------------------------------------------------------------------

_EMAIL_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "memory": "django.core.mail.backends.locmem.EmailBackend",
}
_email_backend = env_str("PORTAL_EMAIL_BACKEND", "smtp" if PRODUCTION else "file")
if _email_backend not in _EMAIL_BACKENDS:
    raise ImproperlyConfigured(
        f"PORTAL_EMAIL_BACKEND must be one of {', '.join(_EMAIL_BACKENDS)}, not {_email_backend!r}."
    )
EMAIL_BACKEND = _EMAIL_BACKENDS[_email_backend]
EMAIL_FILE_PATH = DATA_DIR / "outbox"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Customer Portal <portal@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL


# --- Cache ---------------------------------------------------------------------

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    # Django's Redis cache that keeps answering while Redis is away (portal/core/cache.py):
    # a hung Redis costs a page at most this many seconds, once a second.
    _redis_timeout = float(env_str("PORTAL_REDIS_TIMEOUT", "1"))
    CACHES = {
        "default": {
            "BACKEND": "portal.core.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": _redis_timeout,
                "socket_timeout": _redis_timeout,
            },
        }
    }
else:
    # Files are shared by the server's worker processes (rate limits must be),
    # and need no extra service.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }


# --- Background tasks and live updates -------------------------------------------

# Tasks (e-mail, scans, webhooks) wait in the database; `manage.py db_worker` runs
# them (`make run` starts one beside the server). PORTAL_TASKS_IMMEDIATE=1 runs
# them at once in the calling process instead (tests).
TASKS = {
    "default": {
        "BACKEND": (
            "django_tasks.backends.immediate.ImmediateBackend"
            if env_bool("PORTAL_TASKS_IMMEDIATE", False)
            else "django_tasks_db.DatabaseBackend"
        )
    }
}

# How server processes wake each other when something changed: "database"
# (no extra server; each process looks at the event table on a short tick),
# "postgres" (LISTEN/NOTIFY) or "redis" (pub/sub, needs REDIS_URL).
PORTAL_LIVE_BUS = env_str("PORTAL_LIVE_BUS", "database")
if PORTAL_LIVE_BUS not in {"database", "postgres", "redis"}:
    raise ImproperlyConfigured(
        f"PORTAL_LIVE_BUS must be 'database', 'postgres' or 'redis', not {PORTAL_LIVE_BUS!r}."
    )
if PORTAL_LIVE_BUS == "postgres" and _db["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("PORTAL_LIVE_BUS=postgres needs a PostgreSQL DATABASE_URL.")
PORTAL_LIVE_POLL_INTERVAL = float(env_str("PORTAL_LIVE_POLL_INTERVAL", "0.25"))
# A comment line this often keeps proxies from closing a quiet stream.
PORTAL_LIVE_HEARTBEAT = float(env_str("PORTAL_LIVE_HEARTBEAT", "20"))
# A stream ends after this long and the browser reconnects (with Last-Event-ID),
# so its session and memberships are checked again.
PORTAL_LIVE_MAX_STREAM_SECONDS = env_int("PORTAL_LIVE_MAX_STREAM_SECONDS", 900)
PORTAL_LIVE_MAX_STREAMS_PER_USER = env_int("PORTAL_LIVE_MAX_STREAMS_PER_USER", 20)
# A browser that missed more than this many events reloads its page instead.
PORTAL_LIVE_REPLAY_LIMIT = env_int("PORTAL_LIVE_REPLAY_LIMIT", 500)


# --- API ---------------------------------------------------------------------------


# Requests per token (or per signed-in person using the API from the browser), and
# per client address, as "N/s", "N/m", "N/h" or "N/d". Beyond them: 429 with Retry-After.
def env_rate(name: str, default: str) -> tuple[int, int]:
    """``N/s``, ``N/m``, ``N/h`` or ``N/d`` as (requests, seconds)."""
    value = env_str(name, default)
    count, _, unit = value.partition("/")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(unit.strip().lower())
    if not count.strip().isdigit() or int(count) < 1 or seconds is None:
        raise ImproperlyConfigured(
            f"{name} must look like 300/m (requests per s, m, h or d), not {value!r}."
        )
    return int(count), seconds


PORTAL_API_RATE_LIMIT = env_rate("PORTAL_API_RATE_LIMIT", "300/m")
PORTAL_API_RATE_LIMIT_IP = env_rate("PORTAL_API_RATE_LIMIT_IP", "600/m")
# The longest a personal access token may live.
PORTAL_API_TOKEN_MAX_DAYS = env_int("PORTAL_API_TOKEN_MAX_DAYS", 365)
# Items per page of an API list, unless the client asks for fewer (or up to the maximum).
PORTAL_API_PAGE_SIZE = env_int("PORTAL_API_PAGE_SIZE", 25)
PORTAL_API_MAX_PAGE_SIZE = env_int("PORTAL_API_MAX_PAGE_SIZE", 100)


# --- Invoices and payments -------------------------------------------------------

PORTAL_CURRENCY = env_str("PORTAL_CURRENCY", "EUR").upper()
PORTAL_INVOICE_PREFIX = env_str("PORTAL_INVOICE_PREFIX", "INV")
PORTAL_INVOICE_DUE_DAYS = env_int("PORTAL_INVOICE_DUE_DAYS", 14)
# Who issues the invoices, as printed on them: lines separated by "|"
# (name, address, VAT number, bank account for transfers).
PORTAL_INVOICE_ISSUER = [
    line.strip()
    for line in env_str("PORTAL_INVOICE_ISSUER", env_str("PORTAL_NAME", "Customer Portal")).split(
        "|"
    )
    if line.strip()
]
# Stripe. Without a secret key card payment is switched off: invoices are still
# shown and the customer is told to pay another way. `make run` starts localstripe
# (a local Stripe emulator) and sets these for the portal it serves.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
if STRIPE_SECRET_KEY and not (STRIPE_PUBLISHABLE_KEY and STRIPE_WEBHOOK_SECRET):
    raise ImproperlyConfigured(
        "STRIPE_SECRET_KEY is set but STRIPE_PUBLISHABLE_KEY or STRIPE_WEBHOOK_SECRET is not: "
        "card payment needs all three (the webhook secret is the endpoint's signing secret, "
        "whsec_...)."
    )
# Another address for Stripe's API: localstripe in development and tests.
PORTAL_STRIPE_API_BASE = env_str("PORTAL_STRIPE_API_BASE").rstrip("/")
# Where the payment page loads Stripe.js from; the page's CSP allows that origin.
PORTAL_STRIPE_JS_URL = env_str(
    "PORTAL_STRIPE_JS_URL",
    f"{PORTAL_STRIPE_API_BASE}/js.stripe.com/v3/"
    if PORTAL_STRIPE_API_BASE
    else "https://js.stripe.com/v3/",
)
PORTAL_STRIPE_TIMEOUT = float(env_str("PORTAL_STRIPE_TIMEOUT", "10"))
PORTAL_STRIPE_NETWORK_RETRIES = env_int("PORTAL_STRIPE_NETWORK_RETRIES", 2)
# The payment provider class. localstripe differs from Stripe in how a card token
# becomes a payment method, so it has a provider of its own (never in production).
PORTAL_PAYMENT_PROVIDER = env_str(
    "PORTAL_PAYMENT_PROVIDER",
    "portal.billing.providers.localstripe.LocalStripeProvider"
    if PORTAL_STRIPE_API_BASE
    else "portal.billing.providers.stripe.StripeProvider",
)
if PRODUCTION and PORTAL_PAYMENT_PROVIDER.endswith(".LocalStripeProvider"):
    raise ImproperlyConfigured(
        "PORTAL_STRIPE_API_BASE or PORTAL_PAYMENT_PROVIDER selects the localstripe emulator, "
        "which must never take payments in production. Unset them."
    )


# --- Internationalisation ------------------------------------------------------

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [
    BASE_DIR / "portal" / "locale",  # the portal's own strings (make messages)
    # Formal German for allauth's pages, replacing its "du" forms (written by hand).
    BASE_DIR / "portal" / "locale_allauth",
]
TIME_ZONE = env_str("PORTAL_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True


# --- Logging --------------------------------------------------------------------

LOG_LEVEL = env_str("PORTAL_LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "portal.core.logging.JsonFormatter"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # Our request log already has one line per request.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        # The Stripe SDK logs whole API answers (with payments' client secrets) at
        # DEBUG and every call at INFO; the portal logs its payment events itself.
        "stripe": {"level": "WARNING"},
    },
}


# --- Metrics (Prometheus) ---------------------------------------------------------


def env_networks(name: str, default: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for item in env_list(name, default.split(",")):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"{name} must list networks such as 127.0.0.1/32,10.0.0.0/8, not {item!r}."
            ) from exc
    return networks


# /metrics answers only clients in these networks (the node's direct peer, or the
# address the trusted proxy forwards), and only with this bearer token if one is set.
PORTAL_METRICS_ALLOW = env_networks("PORTAL_METRICS_ALLOW", "127.0.0.1/32,::1/128")
PORTAL_METRICS_TOKEN = env_str("PORTAL_METRICS_TOKEN")


# --- The portal ----------------------------------------------------------------

PORTAL_NAME = env_str("PORTAL_NAME", "Customer Portal")


# --- Content pages (Markdown with front matter) ---------------------------------

# The .md files are the source; `manage.py content sync` loads them into the
# database index the pages and the search read from.
PORTAL_CONTENT_DIR = Path(env_str("PORTAL_CONTENT_DIR") or BASE_DIR / "content").resolve()
# Re-sync when the files change (compares their sizes and modification times,
# at most once per interval per process), so edits show without a restart.
PORTAL_CONTENT_AUTOSYNC = env_bool("PORTAL_CONTENT_AUTOSYNC", True)
PORTAL_CONTENT_CHECK_INTERVAL = env_int("PORTAL_CONTENT_CHECK_INTERVAL", 60 if PRODUCTION else 2)
