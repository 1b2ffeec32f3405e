"""Intake: the CMS's events stored durably, and the outbox that hands them to the broker."""
