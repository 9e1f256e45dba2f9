"""Email digests: subscriptions, composition, the outbox and its sender, the scheduler."""
