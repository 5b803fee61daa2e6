"""The local stack: template.yaml run on one machine (moto as AWS). Never deployed to Lambda."""
