"""The tracking node's ASGI app (web/tracking_node.py), configured from the environment as
`clearpixel serve --role tracking` configures it, for the servers the node is compared under
in `bench/scale.py --tracking`: `granian --interface asgi node_app:app`, and
`python bench/node_app.py PORT`, uvicorn as the whole app runs under it (httptools with the
guarded protocol of web/connections.py, uvloop)."""

from __future__ import annotations

import sys

from clearpixel.cli.serve import _tracking_node

app, _ = _tracking_node("127.0.0.1", 0)

if __name__ == "__main__":
    import uvicorn

    from clearpixel.web.server import server_config

    uvicorn.Server(server_config(app, host="127.0.0.1", port=int(sys.argv[1]))).run()
