"""Outgoing mail: the transport (SMTP or an ``.eml`` outbox), message composition, DKIM.

``transport.open_transport(settings)`` sends ready bytes; ``compose`` turns templates into
those bytes. Newsletters render a release once (``compose.compile_message``) and
personalise each copy by substituting a few precomputed slots.
"""
