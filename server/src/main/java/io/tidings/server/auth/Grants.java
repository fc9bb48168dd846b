package io.tidings.server.auth;

import java.util.ArrayList;
import java.util.List;

/**
 * What a principal may do: topics to subscribe to (and read), topics to publish to, admin, and
 * whether it may register webhooks.
 */
public final class Grants {
  /** Nothing at all. */
  public static final Grants NONE = new Grants(List.of(), List.of(), false);
  /** Everything: the grants of every request when no authentication is configured. */
  public static final Grants ALL = new Grants(List.of(GrantPattern.compile("**")), List.of(GrantPattern.compile("**")), true);

  private final List<GrantPattern> subscribe;
  private final List<GrantPattern> publish;
  private final boolean admin;
  private final boolean webhooks;

  public Grants(List<GrantPattern> subscribe, List<GrantPattern> publish, boolean admin) {
    this(subscribe, publish, admin, false);
  }

  /** @param webhooks may manage its own webhook endpoints (admin may manage every one) */
  public Grants(List<GrantPattern> subscribe, List<GrantPattern> publish, boolean admin, boolean webhooks) {
    this.subscribe = List.copyOf(subscribe);
    this.publish = List.copyOf(publish);
    this.admin = admin;
    this.webhooks = webhooks;
  }

  /**
   * Compiles pattern texts.
   *
   * @throws IllegalArgumentException for the first invalid pattern
   */
  public static Grants of(List<String> subscribe, List<String> publish, boolean admin) {
    return new Grants(compile(subscribe), compile(publish), admin);
  }

  /** As {@link #of(List, List, boolean)}, with the {@code webhooks} grant. */
  public static Grants of(List<String> subscribe, List<String> publish, boolean admin, boolean webhooks) {
    return new Grants(compile(subscribe), compile(publish), admin, webhooks);
  }

  private static List<GrantPattern> compile(List<String> texts) {
    List<GrantPattern> out = new ArrayList<>(texts == null ? 0 : texts.size());
    if (texts != null) {
      for (String t : texts) {
        out.add(GrantPattern.compile(t));
      }
    }
    return out;
  }

  /** These grants and {@code other}'s together. */
  public Grants plus(Grants other) {
    if (other.subscribe.isEmpty() && other.publish.isEmpty() && !other.admin && !other.webhooks) {
      return this;
    }
    List<GrantPattern> s = new ArrayList<>(subscribe);
    s.addAll(other.subscribe);
    List<GrantPattern> p = new ArrayList<>(publish);
    p.addAll(other.publish);
    return new Grants(s, p, admin || other.admin, webhooks || other.webhooks);
  }

  public boolean maySubscribe(String topic, String subject) {
    return any(subscribe, topic, subject);
  }

  public boolean mayPublish(String topic, String subject) {
    return any(publish, topic, subject);
  }

  public boolean admin() {
    return admin;
  }

  /** May register and manage webhook endpoints (its own; admin manages all). */
  public boolean webhooks() {
    return webhooks || admin;
  }

  /** The subscribe patterns as written, {@code {sub}} included: what a delivery remembers of its owner. */
  public List<String> subscribeTexts() {
    List<String> out = new ArrayList<>(subscribe.size());
    for (GrantPattern p : subscribe) {
      out.add(p.toString());
    }
    return out;
  }

  /** Whether these grants allow anything at all. */
  public boolean empty() {
    return subscribe.isEmpty() && publish.isEmpty() && !admin;
  }

  /** Whether some topic may be subscribed to. */
  public boolean subscribesAny() {
    return !subscribe.isEmpty();
  }

  private static boolean any(List<GrantPattern> patterns, String topic, String subject) {
    for (GrantPattern p : patterns) {
      if (p.matches(topic, subject)) {
        return true;
      }
    }
    return false;
  }

  @Override
  public String toString() {
    return "subscribe=" + subscribe + " publish=" + publish + " admin=" + admin + " webhooks=" + webhooks;
  }
}
