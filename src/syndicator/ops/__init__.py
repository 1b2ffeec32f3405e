"""What operators watch: readings of the pipeline, and their Prometheus exposition."""
