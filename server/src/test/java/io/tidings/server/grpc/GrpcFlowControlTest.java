package io.tidings.server.grpc;

import static io.tidings.server.grpc.GrpcSupport.WAIT;
import static io.tidings.server.grpc.GrpcSupport.subscribe;
import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.tidings.proto.v1.Event;
import io.tidings.proto.v1.ServerMessage;
import io.tidings.proto.v1.SubscribeRequest;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.TidingsProcess;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Flow control: the server writes to a {@code Subscribe} stream only while its HTTP/2 window is
 * open, queues a bounded amount behind it, and ends a client that stopped reading with
 * {@code RESOURCE_EXHAUSTED} and the resume trailers, while it keeps serving everyone else. Sending
 * the {@code tidings-resume-bin} request back loses nothing and repeats nothing.
 */
class GrpcFlowControlTest {
  private static final int EVENTS = 4000;
  private static final String PAD = "p".repeat(1000);

  private static TidingsProcess server;
  private static Http http;
  private static ManagedChannel slowChannel;
  private static ManagedChannel channel;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("grpc-flow").memory().config("""
        server: { event_loops: 2 }
        push:
          outbound: { max_bytes: 256KiB, max_messages: 512 }
        """).start();
    http = new Http(server);
    slowChannel = GrpcSupport.channel(server);
    channel = GrpcSupport.channel(server);
  }

  @AfterAll
  static void stop() throws Exception {
    for (ManagedChannel c : new ManagedChannel[] {slowChannel, channel}) {
      if (c != null) {
        c.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
    if (server != null) {
      server.close();
    }
  }

  /**
   * Publishes {@code EVENTS} events in batches of 100, each once {@code healthy} has received the
   * previous one: the reading client is never far behind, whatever the machine's load, while the
   * one that stopped reading falls further behind with every batch.
   */
  private static List<Event> publishAll(String topic, GrpcSupport.Stream healthy) throws InterruptedException {
    List<Event> received = new ArrayList<>();
    for (int from = 1; from <= EVENTS; from += 100) {
      StringBuilder batch = new StringBuilder("[");
      for (int i = from; i < from + 100; i++) {
        batch.append(i == from ? "" : ",").append("{\"data\":{\"n\":").append(i).append(",\"pad\":\"").append(PAD)
            .append("\"}}");
      }
      http.publishOk(topic, batch.append(']').toString());
      received.addAll(healthy.events(100));
    }
    return received;
  }

  private static double slowConsumers() {
    return http.metric("tidings_push_slow_consumers_grpc_total").orElse(0.0);
  }

  @Test
  void aClientThatStopsReading_isEndedWithResourceExhausted_andResumesFromTheTrailerWithoutLoss() throws Exception {
    String topic = "flow/live";
    double before = slowConsumers();
    // The slow client takes the subscribed message and one event, then reads nothing more.
    GrpcSupport.Stream slow = GrpcSupport.Stream.open(slowChannel, subscribe(topic, "now"), null, true);
    GrpcSupport.Stream healthy = GrpcSupport.Stream.open(channel, subscribe(topic, "now"));
    assertThat(slow.next().hasSubscribed()).isTrue();
    assertThat(healthy.next().hasSubscribed()).isTrue();
    slow.request(1);

    // Everyone else is served in full meanwhile.
    List<Event> all = publishAll(topic, healthy);
    assertThat(all).extracting(Event::getOffset).containsExactlyElementsOf(
        java.util.stream.LongStream.rangeClosed(1, EVENTS).boxed().toList());
    healthy.close();
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (slowConsumers() <= before) {
      assertThat(System.nanoTime()).as("the server cuts the client that stopped reading").isLessThan(deadline);
      Thread.sleep(50);
    }
    assertThat(slow.status).as("the end waits behind what the client has not read").isNotDone();

    // The client reads on: what was written before the cut, then the status and trailers.
    slow.request(Integer.MAX_VALUE);
    Status status = slow.awaitStatus();
    assertThat(status.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(slow.trailers.get(GrpcSupport.ERROR_CODE)).isEqualTo("slow_consumer");
    List<Event> first = new ArrayList<>();
    for (ServerMessage m : slow.messages) {
      if (m.hasEvent()) {
        first.add(m.getEvent());
      }
    }
    assertThat(first).as("the client got some events before the cut").isNotEmpty();
    assertThat(first.size()).as("and not all: it was cut").isLessThan(EVENTS);
    for (int i = 0; i < first.size(); i++) {
      assertThat(first.get(i).getOffset()).isEqualTo(i + 1);
    }
    String lastCursor = first.get(first.size() - 1).getCursor();
    SubscribeRequest resume = slow.resumeRequest();
    assertThat(resume.getTopicsCount()).isEqualTo(1);
    assertThat(resume.getTopics(0).getTopic()).isEqualTo(topic);
    assertThat(resume.getTopics(0).getSince()).as("the last cursor delivered").isEqualTo(lastCursor);
    assertThat(slow.trailers.get(GrpcSupport.RESUME_CURSOR)).isEqualTo(topic + " " + lastCursor);

    try (GrpcSupport.Stream again = GrpcSupport.Stream.open(slowChannel, resume)) {
      assertThat(again.next().getSubscribed().getCursor()).isEqualTo(lastCursor);
      List<Event> rest = again.events(EVENTS - first.size());
      for (int i = 0; i < rest.size(); i++) {
        assertThat(rest.get(i).getOffset()).as("no gap, no repeat").isEqualTo(first.size() + i + 1L);
      }
    }
    assertThat(http.metric("tidings_push_connections_grpc")).hasValue(0.0);
  }
}
