package io.tidings.client;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/** A listener that keeps what it is told, for assertions. */
class Recorder implements SubscriptionListener {
  final List<Event> events = new CopyOnWriteArrayList<>();
  final List<Reset> resets = new CopyOnWriteArrayList<>();
  final List<String> statuses = new CopyOnWriteArrayList<>();
  final List<TidingsException> errors = new CopyOnWriteArrayList<>();
  final Map<Transport, Boolean> liveOn = new ConcurrentHashMap<>();

  @Override
  public void onEvent(Event event) {
    events.add(event);
  }

  @Override
  public void onReset(Reset reset) {
    resets.add(reset);
  }

  @Override
  public void onStatus(Subscription.Status status, Transport transport, String reason) {
    statuses.add(status + " " + transport + " " + reason);
    if (status == Subscription.Status.LIVE) {
      liveOn.put(transport, true);
    }
  }

  @Override
  public void onError(TidingsException error) {
    errors.add(error);
  }

  List<Event> of(String topic) {
    List<Event> out = new ArrayList<>();
    for (Event e : events) {
      if (e.topic().equals(topic)) {
        out.add(e);
      }
    }
    return out;
  }

  List<Long> offsets(String topic) {
    List<Long> out = new ArrayList<>();
    for (Event e : of(topic)) {
      out.add(e.offset());
    }
    return out;
  }

  static List<Long> range(long from, long to) {
    List<Long> out = new ArrayList<>();
    for (long i = from; i <= to; i++) {
      out.add(i);
    }
    return out;
  }
}
