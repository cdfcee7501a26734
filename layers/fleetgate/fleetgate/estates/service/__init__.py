"""The estates context's services, one module per seam. Other contexts call these (never the repository):
``billing.record_device_reading`` is the flow engine's ``meter`` node."""
