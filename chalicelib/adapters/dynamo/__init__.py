"""DynamoDB through PynamoDB: table models and the stores built on them."""
