"""Concrete implementations of the ports: DynamoDB, SSM, Twilio and friends."""
