"""`syndicator` command groups that have grown beyond a few commands, one module each."""
