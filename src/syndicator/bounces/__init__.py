"""Bounces and complaints that come back for mail we sent: what a report says
(:mod:`~syndicator.bounces.feedback`), whose it is (:mod:`~syndicator.bounces.verp`) and
what it does to the subscriber (:mod:`~syndicator.bounces.recording`)."""
