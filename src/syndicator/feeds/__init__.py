"""Feed publishing: read releases, render documents, write them atomically."""
