"""Lambda events as AWS documents them, shared by the handler's tests and the Lambda image's.

Function URLs: https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html (request payload,
format 2.0, as HTTP APIs'); API Gateway REST APIs:
https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
(input format of a Lambda proxy integration).
"""

from __future__ import annotations

import base64


def http_v2(path: str, body: str, b64: bool = False, url: bool = True) -> dict:
    """A Function URL event (payload format 2.0; API Gateway HTTP APIs send the same with url=False)."""
    event = {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "abc.lambda-url.us-east-1.on.aws"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc", "domainName": "abc.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abc", "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                                            "sourceIp": "1.2.3.4", "userAgent": "curl"},
            "requestId": "r1", "routeKey": "$default", "stage": "$default", "time": "26/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795600000000,
        },
        "body": base64.b64encode(body.encode()).decode() if b64 else body,
        "isBase64Encoded": b64,
    }
    if not url:
        event["requestContext"]["domainName"] = "abc.execute-api.us-east-1.amazonaws.com"
    return event


def rest_v1(path: str, body: str) -> dict:
    """An API Gateway REST API proxy event (payload format 1.0)."""
    return {
        "resource": "/{proxy+}", "path": path, "httpMethod": "POST",
        "headers": {"Content-Type": "application/json", "Host": "abc.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")}, "stageVariables": None,
        "requestContext": {"resourcePath": "/{proxy+}", "httpMethod": "POST", "path": "/prod" + path,
                           "stage": "prod", "requestId": "r2", "accountId": "123456789012",
                           "identity": {"sourceIp": "1.2.3.4"}},
        "body": body, "isBase64Encoded": False,
    }
