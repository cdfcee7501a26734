"""The flow engine: a flow run is a chain of steps, one SQS message each, executed by the flow worker; run state,
step traces and dead letters in DynamoDB."""
