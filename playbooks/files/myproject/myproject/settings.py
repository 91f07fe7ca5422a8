"""Settings for myproject: the smallest Django 4.2 site plumb deploys (nginx -> uWSGI -> Django).

No database and no templates: the one view returns its HTML directly.
"""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# Set DJANGO_SECRET_KEY in the service's environment for anything real; the fallback keeps a test
# deployment working without a secret store.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "plumb-test-only-insecure-secret-key-change-me")

DEBUG = False
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = ["django.contrib.staticfiles"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "myproject.urls"
WSGI_APPLICATION = "myproject.wsgi.application"

DATABASES = {}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# nginx serves /static/ from STATIC_ROOT; the playbook copies static/ there (no collectstatic).
STATIC_URL = "/static/"
STATIC_ROOT = "/srv/myproject/staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# With DEBUG off Django would only mail errors to ADMINS; send them to stderr (the journal).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
