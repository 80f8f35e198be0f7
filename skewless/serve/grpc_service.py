"""TF Serving's gRPC services, ``tensorflow.serving.PredictionService`` (Predict, Classify,
Regress, GetModelMetadata) and ``ModelService.GetModelStatus``, on the message definitions
of ``tensorflow-serving-api``: the official client stubs work unchanged.

The methods are registered here rather than through the generated ``add_…_to_server``, so
that a request whose bytes do not decode is INVALID_ARGUMENT (gRPC's own deserialization
failure is INTERNAL), and any other fault INTERNAL, never UNKNOWN."""
from __future__ import annotations

import functools
import sys
import time
import traceback
from concurrent import futures

import grpc
from tensorflow_serving.apis import (classification_pb2, get_model_metadata_pb2,
                                     get_model_status_pb2, predict_pb2, regression_pb2)

from . import messages
from .status import ServingError, internal, invalid
from .models import Models
from .request_log import APIS


class _Undecodable:
    """What a request's bytes became when they are not a message of the method's type."""

    def __init__(self, error: ServingError):
        self.error = error


def _decoder(request_class):
    def decode(data: bytes):
        try:
            return request_class.FromString(data)
        except Exception as error:  # whatever the bytes, the request is at fault
            return _Undecodable(invalid(f"the request is not a valid "
                                        f"{request_class.DESCRIPTOR.full_name}: {error}"))

    return decode


def _aborts_on_errors(method):
    """A ServingError ends the call with its status code and message. Each call is counted
    in the service's metrics, if any."""

    @functools.wraps(method)
    def call(self, request, context):
        started = time.monotonic()
        failure = None
        try:
            if isinstance(request, _Undecodable):
                raise request.error
            response = method(self, request, context)
            if method.__name__ in APIS and self._request_log is not None:
                self._request_log.log(method.__name__, lambda: (request, response),
                                      request.ByteSize)
            return response
        except ServingError as error:
            failure = error
        except Exception as error:  # a bug must not take the server down
            traceback.print_exc(file=sys.stderr)
            failure = internal(error)
        finally:
            if self._metrics is not None:
                name = "" if isinstance(request, _Undecodable) else request.model_spec.name
                self._metrics.request(name, method.__name__, "GRPC",
                                      "OK" if failure is None else failure.code.name,
                                      time.monotonic() - started)
        context.abort(failure.code, failure.message)

    return call


class PredictionService:
    def __init__(self, models: Models, metrics=None, request_log=None):
        self._models = models
        self._metrics = metrics
        self._request_log = request_log

    @_aborts_on_errors
    def Predict(self, request, context):
        servable = messages.resolve(self._models, request.model_spec)
        signature = servable.signature(request.model_spec.signature_name)
        servable.check_input_names(signature, request.inputs)
        inputs = {name: messages.tensor_from_proto(name, proto, signature.definition.inputs[name],
                                                   self._models.limits)
                  for name, proto in request.inputs.items()}
        outputs = servable.predict(signature, inputs, tuple(request.output_filter))
        return messages.predict_response(request.model_spec.name, servable, signature.name,
                                         outputs)

    @_aborts_on_errors
    def Classify(self, request, context):
        servable = messages.resolve(self._models, request.model_spec)
        signature = servable.signature(request.model_spec.signature_name)
        classes, scores = servable.classify(signature, messages.serialized_examples(
            request.input, self._models.limits))
        return messages.classification_response(request.model_spec.name, servable,
                                                signature.name, classes, scores)

    @_aborts_on_errors
    def Regress(self, request, context):
        servable = messages.resolve(self._models, request.model_spec)
        signature = servable.signature(request.model_spec.signature_name)
        values = servable.regress(signature, messages.serialized_examples(
            request.input, self._models.limits))
        return messages.regression_response(request.model_spec.name, servable,
                                            signature.name, values)

    @_aborts_on_errors
    def GetModelMetadata(self, request, context):
        servable = messages.resolve(self._models, request.model_spec)
        return messages.metadata_response(request.model_spec.name, servable,
                                          tuple(request.metadata_field))


class ModelService:
    def __init__(self, models: Models, metrics=None):
        self._models = models
        self._metrics = metrics

    @_aborts_on_errors
    def GetModelStatus(self, request, context):
        return messages.status_response(self._models, request.model_spec)


# service → method → (request, response) message types, as in TF Serving's .proto files
_METHODS = {
    "tensorflow.serving.PredictionService": {
        "Predict": (predict_pb2.PredictRequest, predict_pb2.PredictResponse),
        "Classify": (classification_pb2.ClassificationRequest,
                     classification_pb2.ClassificationResponse),
        "Regress": (regression_pb2.RegressionRequest, regression_pb2.RegressionResponse),
        "GetModelMetadata": (get_model_metadata_pb2.GetModelMetadataRequest,
                             get_model_metadata_pb2.GetModelMetadataResponse),
    },
    "tensorflow.serving.ModelService": {
        "GetModelStatus": (get_model_status_pb2.GetModelStatusRequest,
                           get_model_status_pb2.GetModelStatusResponse),
    },
}


def _handlers(models: Models, metrics, request_log) -> list:
    services = {"tensorflow.serving.PredictionService": PredictionService(models, metrics,
                                                                          request_log),
                "tensorflow.serving.ModelService": ModelService(models, metrics)}
    return [grpc.method_handlers_generic_handler(service, {
        method: grpc.unary_unary_rpc_method_handler(
            getattr(services[service], method), request_deserializer=_decoder(request),
            response_serializer=response.SerializeToString)
        for method, (request, response) in methods.items()})
        for service, methods in _METHODS.items()]


def bind_grpc(models: Models, host: str, port: int, workers: int,
              metrics=None, request_log=None) -> tuple[grpc.Server, int]:
    """The server, listening but not yet started, and its port (``port`` 0 picks a free
    one); each call is counted in ``metrics`` (a ``metrics.Metrics``), if given, and each
    Predict, Classify and Regress answered OK is offered to ``request_log`` (a
    ``request_log.RequestLog``), if given. A port
    another process listens on is an OSError: the port is not shared (gRPC's default,
    SO_REUSEPORT, would let two servers take turns answering).

    Bounds: ``limits.max_connections`` calls in progress at once (one more is answered
    RESOURCE_EXHAUSTED by gRPC); a connection without a call for ``limits.idle_timeout``
    seconds is closed (GOAWAY), and one that has not finished its handshake by then is
    dropped; messages over ``limits.max_request_bytes`` are RESOURCE_EXHAUSTED."""
    limits = models.limits
    idle_ms = int(limits.idle_timeout * 1000)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers),
                         maximum_concurrent_rpcs=limits.max_connections, options=[
        ("grpc.max_receive_message_length", limits.max_request_bytes),
        ("grpc.max_send_message_length", -1),  # answers are as large as the model makes them
        ("grpc.max_connection_idle_ms", idle_ms),
        ("grpc.server_handshake_timeout_ms", idle_ms),
        ("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers(_handlers(models, metrics, request_log))
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise OSError("the port is in use, or the host is not an address of this machine")
    return server, bound
