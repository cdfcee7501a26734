"""Rate limits and throttles: fixed-window counters in DynamoDB, shared by every Lambda instance."""
