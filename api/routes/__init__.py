"""HTTP routers, one per resource; `api.app.create_app` includes each."""
