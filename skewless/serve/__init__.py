"""A local model server speaking TF Serving's gRPC and REST APIs (``skewless serve``).

| module | job |
|---|---|
| ``server`` | runs both front ends until SIGTERM, polling for new versions |
| ``model_config`` | the models to serve: one named on the command line, or a model config file |
| ``text_config`` | TF Serving's text-format config files, and the message classes its API package lacks |
| ``batching`` | server-side batching (``--enable_batching``): its parameters and its scheduler |
| ``metrics`` | Prometheus metrics (``--monitoring_config_file``) |
| ``models`` | the models served, by name, and their version labels |
| ``versions`` | one model's versions on disk; which its version policy serves; which are loaded |
| ``servable`` | one loaded version: its signatures and Predict/Classify/Regress on them |
| ``feature_kinds`` | each tf.Example feature's dtype, read from the model's parse ops |
| ``messages`` | TF Serving's protocol messages to and from a servable's tensors |
| ``json_convert`` | TF Serving's REST bodies to and from tensors and tf.Examples |
| ``json_body`` | a REST body parsed as a JSON object: UTF-8, valid strings, no repeated key, within the limits |
| ``json_scan`` | a REST body's values and rows, counted before it is parsed |
| ``grpc_service`` | PredictionService and ModelService over gRPC |
| ``rest`` | the REST routes over the standard library's HTTP server |
| ``limits`` | the size limits and dtype ranges, checked before a request is converted |
| ``status`` | the error type, with its gRPC code and HTTP status |
"""
from .server import serve

__all__ = ["serve"]
