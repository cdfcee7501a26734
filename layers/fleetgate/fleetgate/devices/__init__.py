"""Device manager: devices, labels, their membership and device history."""
