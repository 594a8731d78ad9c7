"""Webhook delivery: CloudEvents signed the Standard Webhooks way, sent from the region whose
database holds the events, retried with backoff, every attempt recorded."""
