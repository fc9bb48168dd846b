package io.tidings.server.admin;

import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import java.nio.charset.StandardCharsets;

/**
 * One open {@code GET /admin/stream}: a plain Vert.x event stream (admin streams are few, so it is
 * not taken over like the push transports) that sends the service's snapshot once a second. A
 * client that does not keep up misses snapshots rather than queueing them. It ends when its
 * credentials expire or the server stops. Writes happen on the stream's own loop.
 */
final class AdminStream {
  private static final byte[] DATA = "data: ".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] END = "\n\n".getBytes(StandardCharsets.US_ASCII);

  private final AdminService service;
  private final Context context;
  private final HttpServerResponse response;
  private final long expiresAt;
  private boolean closed;

  AdminStream(AdminService service, Context context, HttpServerResponse response, long expiresAt) {
    this.service = service;
    this.context = context;
    this.response = response;
    this.expiresAt = expiresAt;
  }

  Context context() {
    return context;
  }

  /** Sends the headers and {@code first}, then follows the service. Call on the loop. */
  void start(byte[] first) {
    response.closeHandler(v -> close());
    response.exceptionHandler(e -> close());
    response.write(Buffer.buffer("retry: 3000\n\n"));
    write(first);
    if (!closed) {
      service.register(this);
    }
  }

  /** Sends a snapshot (from any thread). */
  void send(byte[] json) {
    context.runOnContext(v -> write(json));
  }

  private void write(byte[] json) {
    if (closed) {
      return;
    }
    if (System.currentTimeMillis() >= expiresAt) {
      // The token has expired: EventSource comes back, and a 401 tells the page to ask for a new one.
      end();
      return;
    }
    if (response.writeQueueFull()) {
      return;
    }
    Buffer frame = Buffer.buffer(DATA.length + json.length + END.length).appendBytes(DATA).appendBytes(json).appendBytes(END);
    response.write(frame);
  }

  /** Ends the stream (the server stops). Call on the loop. */
  void end() {
    if (closed) {
      return;
    }
    close();
    if (!response.ended() && !response.closed()) {
      response.end();
    }
  }

  private void close() {
    closed = true;
    service.unregister(this);
  }
}
