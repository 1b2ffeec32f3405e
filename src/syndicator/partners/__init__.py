"""Partner webhooks: who they are, what they receive, and how it is signed."""
