"""The web app manifest and the service worker, served from the site root so its scope is /."""

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404, HttpRequest, JsonResponse
from django.templatetags.static import static
from django.views.decorators.cache import cache_control


@cache_control(max_age=3600, public=True)
def manifest(request: HttpRequest) -> JsonResponse:
    data = {
        "name": "GOMFlow Payments",
        "short_name": "GOMFlow",
        "start_url": "/",
        "display": "standalone",
        "background_color": "#f6f8fa",
        "theme_color": "#0b5cad",
        "icons": [{"src": static("img/icon.svg"), "sizes": "any", "type": "image/svg+xml"}],
    }
    return JsonResponse(data, content_type="application/manifest+json")


@cache_control(no_cache=True)
def service_worker(request: HttpRequest) -> FileResponse:
    # Served from /sw.js rather than /static/ so that it may control every page of the site.
    path = finders.find("js/sw.js") or (settings.STATIC_ROOT / "js" / "sw.js")
    try:
        return FileResponse(open(path, "rb"), content_type="application/javascript")
    except OSError:
        raise Http404("No service worker.") from None
