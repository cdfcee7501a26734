"""Per-route DynamoDB call budgets of the route groups that keep their own (see tests/test_dynamodb_calls.py)."""
