"""syndicator: one publish event, rendered and delivered to every channel."""

__all__ = ["__version__"]
__version__ = "0.1.0"
