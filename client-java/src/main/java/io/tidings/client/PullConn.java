package io.tidings.client;

import io.tidings.client.SubscriptionImpl.Reply;
import io.tidings.client.SubscriptionImpl.Topic;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Long polling and polling over {@code /v1/changes}: one request loop per topic. A long poll
 * waits on the server ({@code wait}); a poll sends {@code If-None-Match} and pauses for what
 * {@code Tidings-Poll-Interval} advises, within the caller's bounds. The connection counts as open
 * at its first answer; a long poll's first request per topic does not wait, so that is at once.
 */
final class PullConn extends SubscriptionImpl.Conn {
  private final SubscriptionImpl sub;
  private final boolean longPoll;
  private final Map<Topic, CompletableFuture<?>> inflight = new HashMap<>();
  private final Map<Topic, SubscriptionImpl.Timer> waiting = new HashMap<>();
  private final Map<Topic, Boolean> asked = new HashMap<>();
  private boolean opened;

  PullConn(SubscriptionImpl sub, boolean longPoll) {
    super(longPoll ? Transport.LONG_POLL : Transport.POLL);
    this.sub = sub;
    this.longPoll = longPoll;
  }

  @Override
  void start() {
    for (Topic t : sub.allTopics()) {
      if (t.load == null) {
        request(t);
      }
    }
  }

  @Override
  void promoted() {
    // Already requesting; topics whose state is loading start when it is loaded (resume).
  }

  /** Starts the topic's loop again (after its state was loaded). */
  void resume(Topic t) {
    if (!stopped && !inflight.containsKey(t) && !waiting.containsKey(t)) {
      request(t);
    }
  }

  private void request(Topic t) {
    waiting.remove(t);
    if (stopped || t.load != null) {
      return;
    }
    boolean first = asked.put(t, Boolean.TRUE) == null;
    double wait = longPoll && !first ? sub.options.longPollWait().toMillis() / 1000.0 : 0;
    HttpRequest.Builder b = sub.client.request(sub.changesQuery(t, wait));
    if (wait > 0) {
      b.timeout(sub.client.requestTimeout().plus(sub.options.longPollWait()));
    }
    if (!longPoll && !Cursors.symbolic(t.cursor)) {
      b.header("If-None-Match", "\"" + t.cursor + "\"");
    }
    CompletableFuture<HttpResponse<byte[]>> f = sub.client.http().sendAsync(b.GET().build(), HttpResponse.BodyHandlers.ofByteArray());
    inflight.put(t, f);
    f.whenComplete((r, ex) -> sub.post(() -> answered(t, f, r, ex)));
  }

  private void answered(Topic t, CompletableFuture<?> f, HttpResponse<byte[]> r, Throwable ex) {
    if (stopped || inflight.get(t) != f || !sub.current(this)) {
      return;
    }
    inflight.remove(t);
    Reply reply = Reply.of(r, ex);
    int status = reply.status();
    boolean ok = (status == 200 && reply.json() != null) || status == 304 || status == 410;
    if (!ok) {
      sub.failed(this, reply.failure(transport, false));
      return;
    }
    if (!opened) {
      opened = true;
      sub.opened(this);
      if (!sub.isActive(this)) {
        return;
      }
    }
    if (status == 410) {
      sub.loadState(t);
      return;
    }
    boolean more = false;
    if (status == 200) {
      Changes c = reply.changes();
      for (Event e : c.events()) {
        sub.deliver(t, e);
        if (!sub.isActive(this)) {
          return; // the listener closed the subscription
        }
      }
      if (c.events().isEmpty()) {
        sub.resolved(t, c.cursor());
      } else {
        sub.setCursor(t, c.cursor());
      }
      more = c.more();
    }
    if (longPoll || more) {
      request(t);
    } else {
      waiting.put(t, sub.schedule(interval(r).toMillis(), () -> request(t)));
    }
  }

  /** The server's advice, clamped to the caller's bounds; the lower bound without advice. */
  private Duration interval(HttpResponse<?> r) {
    Duration min = sub.options.pollMin();
    Duration max = sub.options.pollMax();
    Duration d = min;
    String advice = r.headers().firstValue("Tidings-Poll-Interval").orElse(null);
    if (advice != null) {
      try {
        double seconds = Double.parseDouble(advice.trim());
        if (seconds >= 0 && seconds < 86_400) {
          d = Duration.ofMillis(Math.round(seconds * 1000));
        }
      } catch (NumberFormatException ignored) {
        // keep the minimum
      }
    }
    if (d.compareTo(min) < 0) {
      return min;
    }
    return d.compareTo(max) > 0 ? max : d;
  }

  @Override
  void stop() {
    stopped = true;
    for (CompletableFuture<?> f : inflight.values()) {
      f.cancel(true);
    }
    inflight.clear();
    for (SubscriptionImpl.Timer timer : waiting.values()) {
      timer.cancel();
    }
    waiting.clear();
  }

  @Override
  public String toString() {
    return transport + (opened ? " (open)" : "");
  }
}
