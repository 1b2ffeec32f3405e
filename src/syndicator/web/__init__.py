"""The ASGI app: CMS hook, public pages and feeds, operations endpoints."""
