"""Newsletter subscriptions over HTTP, one feature in four groups of routes:

- :mod:`.api`: ``POST /subscriptions``, JSON or a form;
- :mod:`.form`: ``/subscribe``, the residents' form with its Korean validation;
- :mod:`.links`: what a mailed link opens (confirm, preferences, unsubscribe) and the
  form that mails a new link;
- :mod:`.admin`: the operators' API (list, export, erase, unsuppress, resend).

:mod:`.common` is what they share (reading a body, the rate limit, starting a
subscription), :mod:`.render` the pure page renders. The domain rules live in
:mod:`syndicator.subscriptions`.
"""

from __future__ import annotations

from fastapi import APIRouter

from syndicator.web.subscriptions import admin, api, form, links

__all__ = ["router"]

router = APIRouter()
for _routes in (api.router, links.router, admin.router, form.router):
    router.include_router(_routes)
