"""The client of tests/test_serve_load.py, in a module of its own so that its processes
import gRPC and the standard library only (not TensorFlow): each sends requests prepared
(serialized) by the test and gives back each answer's status and bytes."""
from __future__ import annotations

import http.client

import grpc

PREDICT = "/tensorflow.serving.PredictionService/Predict"


def send(grpc_port: int, rest_port: int, requests: list) -> list:
    """``requests``: ("gRPC", serialized PredictRequest) or ("REST", path, JSON body);
    returns (status code name or HTTP status, response bytes) for each."""
    answers = []
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        predict = channel.unary_unary(PREDICT)  # bytes in, bytes out
        rest = http.client.HTTPConnection("127.0.0.1", rest_port, timeout=60)
        for request in requests:
            if request[0] == "gRPC":
                try:
                    answers.append(("OK", predict(request[1], timeout=60)))
                except grpc.RpcError as error:
                    answers.append((error.code().name, error.details().encode()))
            else:
                rest.request("POST", request[1], body=request[2])
                response = rest.getresponse()
                answers.append((response.status, response.read()))
        rest.close()
    return answers
