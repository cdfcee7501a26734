"""Fleetgate's local cloud (dev only, never deployed): plays API Gateway, Lambda, SQS and EventBridge
from template.yaml, on an embedded moto server or DynamoDB Local, without Docker or an AWS account."""
