"""Financed phones: customers and their instalments, the customer-device API, lock commands (an outbox sent over
FCM), overdue enforcement and the push notifier."""
