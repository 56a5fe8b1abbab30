"""Drive back-office pages in Debian's chromium without a live server.

Every request the browser makes (pages, htmx requests, static files) is answered by the Django
test client inside the test's own transaction, so browser tests see the same data as the test
and need no transactional database.
"""

import contextvars
import mimetypes
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders

ORIGIN = "http://kring.test"
PASSED_HEADERS = ("content-type", "accept-language")


def _answer(client, route, request):
    url = urlsplit(request.url)
    path = url.path + (f"?{url.query}" if url.query else "")
    if url.path.startswith(settings.STATIC_URL):
        found = finders.find(url.path.removeprefix(settings.STATIC_URL))
        if not found:
            route.fulfill(status=404, body=b"")
            return
        with open(found, "rb") as file:
            content_type = mimetypes.guess_type(found)[0] or "application/octet-stream"
            route.fulfill(status=200, body=file.read(), headers={"Content-Type": content_type})
        return
    headers = {
        name: value
        for name, value in request.headers.items()
        if name.lower().startswith("hx-") or name.lower() in PASSED_HEADERS
    }
    response = client.generic(
        request.method,
        path,
        data=request.post_data_buffer or b"",
        content_type=request.headers.get("content-type", "application/octet-stream"),
        headers=headers,
    )
    body = b"".join(response.streaming_content) if response.streaming else response.content
    route.fulfill(
        status=response.status_code,
        body=body,
        headers={name: value for name, value in response.items()},
    )


def open_browser_page(chromium, client, *, width: int = 1280):
    """A page whose requests to ORIGIN are served by `client` (log in with client.force_login first)."""
    context = chromium.new_context(base_url=ORIGIN, locale="nl-NL", viewport={"width": width, "height": 900})
    # Playwright calls the handler in its own greenlet, which has its own context variables and so
    # would get its own database connection; run it in the test's context to share the transaction.
    test_context = contextvars.copy_context()
    context.route(
        f"{ORIGIN}/**", lambda route, request: test_context.copy().run(_answer, client, route, request)
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page
