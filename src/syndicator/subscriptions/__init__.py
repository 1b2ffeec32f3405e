"""Newsletter subscriptions: tokens, subscribing and leaving, admin (apart from the web)."""
