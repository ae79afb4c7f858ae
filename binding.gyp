{
  "targets": [
    {
      "target_name": "edgeloop",
      "sources": [
        "native/src/addon.c",
        "native/src/errors.c",
        "native/src/socket.c",
        "native/src/epoll.c",
        "native/src/bridge.c",
        "native/src/diag.c",
        "native/src/tls.c",
        "native/src/unix.c"
      ],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"]
    }
  ]
}
