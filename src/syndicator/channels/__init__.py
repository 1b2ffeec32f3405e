"""Delivery channels: each one plans targets for an event and delivers claimed rows."""
