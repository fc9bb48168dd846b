package io.tidings.server.auth;

/**
 * Who a request or connection acts for, as established once from its credentials: never the
 * credentials themselves. Immutable; a WebSocket's {@code auth} op replaces it with another.
 */
public final class Principal {
  /** How the principal was established. */
  public enum Kind {
    /** No authentication is configured: everything is allowed. */
    OPEN,
    /** No credentials were given: {@code auth.anonymous} grants apply. */
    ANONYMOUS,
    /** An API key from {@code auth.api_keys}. */
    API_KEY,
    /** A verified JSON Web Token. */
    JWT
  }

  /** Every request's principal while no {@code auth} section is configured. */
  public static final Principal OPEN = new Principal(Kind.OPEN, "open", null, Grants.ALL, Long.MAX_VALUE);

  private final Kind kind;
  private final String name;
  private final String subject;
  private final Grants grants;
  private final long expiresAt;

  /**
   * @param name for logs and messages: the key's name or the token's subject, never a secret
   * @param subject what {@code {sub}} stands for, or null
   * @param expiresAt epoch millis after which the credentials are no longer valid ({@code Long.MAX_VALUE}: never)
   */
  public Principal(Kind kind, String name, String subject, Grants grants, long expiresAt) {
    this.kind = kind;
    this.name = name;
    this.subject = subject;
    this.grants = grants;
    this.expiresAt = expiresAt;
  }

  public Kind kind() {
    return kind;
  }

  /** Whether the request came without credentials. */
  public boolean anonymous() {
    return kind == Kind.ANONYMOUS;
  }

  public String name() {
    return name;
  }

  public String subject() {
    return subject;
  }

  public Grants grants() {
    return grants;
  }

  public long expiresAt() {
    return expiresAt;
  }

  /** Whether the credentials have expired at {@code nowMillis}. */
  public boolean expired(long nowMillis) {
    return nowMillis >= expiresAt;
  }

  /** May subscribe to (and read the state and changes of) {@code topic}. */
  public boolean maySubscribe(String topic) {
    return grants.maySubscribe(topic, subject);
  }

  public boolean mayPublish(String topic) {
    return grants.mayPublish(topic, subject);
  }

  public boolean admin() {
    return grants.admin();
  }

  @Override
  public String toString() {
    return kind + "(" + name + ")";
  }
}
