import json
import logging
import socket

from django.conf import settings
from django.db import DatabaseError
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .models import Note

log = logging.getLogger(__name__)


def _versioned(response):
    # Deploy tests and load-balancer checks read which build answered, from the body or this header.
    response["X-App-Version"] = settings.APP_VERSION
    return response


def index(request):
    return _versioned(
        JsonResponse(
            {
                "app": "example",
                "version": settings.APP_VERSION,
                "environment": settings.ENVIRONMENT,
                "host": socket.gethostname(),
                # https when a trusted proxy says so (SECURE_PROXY_SSL_HEADER)
                "scheme": request.scheme,
            }
        )
    )


def home(request):
    """An HTML page with the app's stylesheet and script: the static files the image carries."""
    return _versioned(render(request, "notes/home.html", {"version": settings.APP_VERSION}))


def database_ok():
    """A real query: counts notes, so an unreachable or unmigrated database is unhealthy."""
    try:
        return True, Note.objects.count()
    except DatabaseError as e:
        log.warning("health: database check failed: %s", e)
        return False, None


def health(request):
    if settings.PALLET_FAULT == "health":
        # The process serves, but reports itself broken: the deploy must notice and revert.
        return _versioned(JsonResponse({"status": "fault", "version": settings.APP_VERSION}, status=500))
    ok, count = database_ok()
    if not ok:
        return _versioned(
            JsonResponse({"status": "error", "version": settings.APP_VERSION, "database": "down"}, status=503)
        )
    return _versioned(JsonResponse({"status": "ok", "version": settings.APP_VERSION, "notes": count}))


@csrf_exempt  # a JSON API for the example; no browser session involved
@require_http_methods(["GET", "POST"])
def notes(request):
    if request.method == "POST":
        try:
            text = json.loads(request.body or b"{}").get("text", "")
        except (ValueError, AttributeError):
            return JsonResponse({"error": "body must be a JSON object"}, status=400)
        if not isinstance(text, str) or not text.strip():
            return JsonResponse({"error": "text: a non-empty string is required"}, status=400)
        note = Note.objects.create(text=text)
        return JsonResponse(note.as_dict(), status=201)
    return JsonResponse({"notes": [n.as_dict() for n in Note.objects.all()[:50]]})
