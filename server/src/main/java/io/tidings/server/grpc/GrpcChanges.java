package io.tidings.server.grpc;

import io.tidings.core.Event;
import io.tidings.core.Position;
import io.tidings.proto.v1.ChangesResponse;
import io.tidings.server.auth.Principal;
import io.tidings.server.pull.ChangeReader;
import java.util.function.BiConsumer;

/**
 * {@code Changes}: the event loop's {@link ChangeReader} (the rules of {@code GET /v1/changes},
 * long polling included) answering in protobuf. A held read is cancelled when its call goes away.
 */
public final class GrpcChanges {
  /** The memo kind of a protobuf answer, shared by the reads that one append wakes. */
  private static final Object PROTO = new Object();

  private final ChangeReader reader;

  public GrpcChanges(ChangeReader reader) {
    this.reader = reader;
  }

  /** Reads per the query; {@code then} gets the answer or the failure, on the loop. */
  void read(String topic, Position since, int limit, long waitMillis, boolean notifyOnly, Principal principal,
      String host, GrpcCall call, BiConsumer<ChangesResponse, Throwable> then) {
    ChangeReader.Pending pending = reader.read(
        new ChangeReader.Query(topic, since, limit, waitMillis, notifyOnly, principal, host), ar -> {
          if (ar.failed()) {
            then.accept(null, ar.cause());
          } else {
            then.accept(ar.result().shared(PROTO, notifyOnly, page -> encode(page, notifyOnly)), null);
          }
        });
    call.onClose(pending::cancel);
  }

  private static ChangesResponse encode(ChangeReader.Page page, boolean notifyOnly) {
    ChangesResponse.Builder b = ChangesResponse.newBuilder()
        .setTopic(page.topic())
        .setCursor(page.cursor().encode())
        .setMore(page.more());
    for (Event e : page.events()) {
      b.addEvents(ProtoEvents.event(e, !notifyOnly));
    }
    return b.build();
  }
}
