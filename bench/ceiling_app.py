"""The least an ASGI app can do: a fixed feed and its ETag, no lookup, no headers read but one.
bench/serve.py runs it under uvicorn beside `publisher run` to show uvicorn's own ceiling."""

import hashlib
import os

BODY = open(os.environ["CEILING_FILE"], "rb").read()
ETAG = b'"%s"' % hashlib.sha256(BODY).hexdigest()[:32].encode()
FULL = [(b"content-type", b"application/atom+xml; charset=utf-8"), (b"etag", ETAG),
        (b"content-length", str(len(BODY)).encode())]
NOT_MODIFIED = [(b"etag", ETAG)]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    fresh = any(name == b"if-none-match" and value == ETAG for name, value in scope["headers"])
    await send({"type": "http.response.start", "status": 304 if fresh else 200,
                "headers": NOT_MODIFIED if fresh else FULL})
    await send({"type": "http.response.body", "body": b"" if fresh else BODY})
