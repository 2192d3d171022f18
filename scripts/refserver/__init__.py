"""tritonlua reference server: a Triton Inference Server stand-in for tests and demos.

Serves the KServe v2 protocol with Triton's extensions over HTTP/REST (http_front)
and gRPC (grpc_front) from one in-process model repository (core.Server).
"""
