package io.tidings.client;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A client for one Tidings server. It is thread-safe; share one instance and {@link #close()} it
 * when done.
 *
 * <pre>{@code
 * try (TidingsClient client = TidingsClient.builder(URI.create("http://127.0.0.1:7070")).build()) {
 *   client.publish("scores/match-42", NewEvent.put("home", json("{\"goals\":2}")));
 *   State state = client.state("scores/match-42");
 *   Changes changes = client.changes("scores/match-42", state.cursor(), 100);
 * }
 * }</pre>
 *
 * <p>Every method throws {@link TidingsException} when the request fails: an error answer keeps
 * the server's status, code, message and {@code Retry-After}; {@code 410 cursor_expired} is a
 * {@link CursorExpiredException}. These single requests are never retried automatically.
 *
 * <p>To follow topics, {@link #subscribe(List, String, SubscribeOptions, SubscriptionListener)
 * subscribe} (callbacks), {@link #stream(List, String, SubscribeOptions) stream} (a blocking
 * iterator) or {@link #mirror(String) mirror} (a local copy of a topic's state). Subscriptions
 * choose a transport (WebSocket, SSE, long polling, polling), reconnect with backoff and resume
 * where they stopped by themselves.
 */
public final class TidingsClient implements AutoCloseable {
  private static final String USER_AGENT = "tidings-java/0.1";
  private static final ObjectMapper MAPPER = JsonMapper.builder()
      .nodeFactory(JsonNodeFactory.withExactBigDecimals(true))
      .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
      .build();

  private final String base;
  private final String authorization;
  private final Duration requestTimeout;
  private final Duration connectTimeout;
  private final ExecutorService executor;
  private final HttpClient http;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final Set<Subscription> subscriptions = ConcurrentHashMap.newKeySet();

  private TidingsClient(Builder b) {
    String s = b.uri.toString();
    while (s.endsWith("/")) {
      s = s.substring(0, s.length() - 1);
    }
    this.base = s;
    this.authorization = b.token == null ? null : "Bearer " + b.token;
    this.requestTimeout = b.requestTimeout;
    this.connectTimeout = b.connectTimeout;
    AtomicInteger n = new AtomicInteger();
    this.executor = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "tidings-client-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    this.http = HttpClient.newBuilder()
        .connectTimeout(b.connectTimeout)
        .followRedirects(HttpClient.Redirect.NEVER)
        .executor(executor)
        .build();
  }

  /**
   * Starts building a client for the server at {@code uri}, such as {@code http://127.0.0.1:7070}
   * (a path prefix, for a server behind a proxy, is kept).
   */
  public static Builder builder(URI uri) {
    return new Builder(uri);
  }

  /** The JSON mapper the client reads and writes with (exact decimals), for building event data. */
  public static ObjectMapper mapper() {
    return MAPPER;
  }

  // ---------------------------------------------------------------------------------- publish

  /**
   * Appends events to {@code topic}, all or nothing ({@code POST /v1/events}). The call returns
   * once the server has made them durable.
   *
   * @param topic the topic
   * @param events 1 to 1000 events (the server's {@code events.max_batch})
   * @return the offsets and cursors given to the events
   */
  public PublishResult publish(String topic, NewEvent... events) {
    return publish(topic, List.of(events));
  }

  /**
   * Appends events to {@code topic}, all or nothing ({@code POST /v1/events}). The call returns
   * once the server has made them durable.
   *
   * @param topic the topic
   * @param events 1 to 1000 events (the server's {@code events.max_batch})
   * @return the offsets and cursors given to the events, in the order submitted
   */
  public PublishResult publish(String topic, List<NewEvent> events) {
    Objects.requireNonNull(topic, "topic");
    if (events.isEmpty()) {
      throw new IllegalArgumentException("no events to publish");
    }
    ArrayNode body = MAPPER.createArrayNode();
    for (NewEvent e : events) {
      ObjectNode o = body.addObject();
      o.put("type", e.type());
      if (e.key() != null) {
        o.put("key", e.key());
      }
      if (e.data() != null) {
        o.set("data", e.data());
      }
      if (e.id() != null) {
        o.put("id", e.id());
      }
    }
    byte[] bytes;
    try {
      bytes = MAPPER.writeValueAsBytes(body);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("cannot serialize events", e);
    }
    HttpRequest request = request("/v1/events?topic=" + enc(topic))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofByteArray(bytes))
        .build();
    JsonNode json = send(request);
    List<PublishResult.Outcome> outcomes = new ArrayList<>();
    for (JsonNode o : json.path("events")) {
      outcomes.add(new PublishResult.Outcome(text(o, "id"), o.path("offset").asLong(), text(o, "cursor"),
          o.path("duplicate").asBoolean()));
    }
    return new PublishResult(text(json, "topic"), text(json, "cursor"), outcomes);
  }

  // ------------------------------------------------------------------------------------ pull

  /**
   * The whole state of {@code topic} ({@code GET /v1/state}), following the server's pages. An
   * unknown topic has an empty state.
   *
   * <p>When the state takes several pages and the topic changes meanwhile, later pages may already
   * show newer values; the returned cursor is the first page's, so following
   * {@link #changes(String, String, int) changes} from it replays every such change and a local
   * copy converges.
   */
  public State state(String topic) {
    Objects.requireNonNull(topic, "topic");
    Map<String, State.Entry> entries = new LinkedHashMap<>();
    String cursor = null;
    String after = null;
    while (true) {
      String q = "/v1/state?topic=" + enc(topic) + (after == null ? "" : "&after_key=" + enc(after));
      JsonNode json = send(request(q).GET().build());
      if (cursor == null) {
        cursor = text(json, "cursor");
      }
      for (JsonNode e : json.path("entries")) {
        String key = text(e, "key");
        entries.put(key, new State.Entry(key, e.get("data"), e.path("offset").asLong(), instant(e, "time")));
      }
      String next = text(json, "next_key");
      if (next == null) {
        break;
      }
      if (next.equals(after)) {
        throw new TidingsException(200, "invalid_response", "state paging did not advance past key " + next, null, null);
      }
      after = next;
    }
    return new State(topic, cursor, entries);
  }

  /**
   * The events of {@code topic} after {@code since}, up to the server's default page (100)
   * ({@code GET /v1/changes}).
   *
   * @param since a cursor, {@code earliest} or {@code now}; null means {@code earliest}
   * @throws CursorExpiredException when {@code since} is older than the retained history or of
   *     another epoch
   */
  public Changes changes(String topic, String since) {
    return changes(topic, since, 0);
  }

  /**
   * One page of the events of {@code topic} after {@code since} ({@code GET /v1/changes}). Call
   * again with the returned cursor while {@link Changes#more()} is true to catch up.
   *
   * @param since a cursor, {@code earliest} or {@code now}; null means {@code earliest}
   * @param limit at most this many events (1-1000); 0 for the server's default (100)
   * @throws CursorExpiredException when {@code since} is older than the retained history or of
   *     another epoch
   */
  public Changes changes(String topic, String since, int limit) {
    Objects.requireNonNull(topic, "topic");
    if (limit < 0) {
      throw new IllegalArgumentException("limit < 0");
    }
    StringBuilder q = new StringBuilder("/v1/changes?topic=").append(enc(topic));
    if (since != null) {
      q.append("&since=").append(enc(since));
    }
    if (limit > 0) {
      q.append("&limit=").append(limit);
    }
    JsonNode json = send(request(q.toString()).GET().build());
    List<Event> events = new ArrayList<>();
    for (JsonNode e : json.path("events")) {
      events.add(event(e));
    }
    return new Changes(text(json, "topic"), events, text(json, "cursor"), json.path("more").asBoolean());
  }

  // ------------------------------------------------------------------------------- subscribe

  /**
   * Follows one topic from {@code since} with the default options.
   *
   * @see #subscribe(List, String, SubscribeOptions, SubscriptionListener)
   */
  public Subscription subscribe(String topic, String since, SubscriptionListener listener) {
    return subscribe(List.of(topic), since, SubscribeOptions.defaults(), listener);
  }

  /**
   * Follows topics from {@code since} with the default options.
   *
   * @see #subscribe(List, String, SubscribeOptions, SubscriptionListener)
   */
  public Subscription subscribe(List<String> topics, String since, SubscriptionListener listener) {
    return subscribe(topics, since, SubscribeOptions.defaults(), listener);
  }

  /**
   * Follows topics: replays their events after {@code since}, then delivers live events, until
   * closed. The subscription runs on its own daemon thread; the call returns at once.
   *
   * <pre>{@code
   * Subscription sub = client.subscribe(List.of("orders", "stock"), "now", SubscribeOptions.defaults(),
   *     event -> System.out.println(event.topic() + " " + event.offset() + " " + event.data()));
   * ...
   * sub.close();
   * }</pre>
   *
   * @param topics one or more topics (at most 32 for SSE, which otherwise falls back to the next
   *     transport)
   * @param since where every topic starts: {@code earliest}, {@code now} (also for null), or a
   *     cursor (for one topic)
   * @param options transports, mode, backoff and polling bounds
   * @param listener receives the events, resets, status changes and the error that ends the
   *     subscription, on the subscription's thread
   */
  public Subscription subscribe(List<String> topics, String since, SubscribeOptions options,
      SubscriptionListener listener) {
    return subscribe(sinceMap(topics, since), options, listener);
  }

  /**
   * Follows topics, each from its own position, for instance the {@link Subscription#cursors()}
   * of an earlier subscription.
   *
   * @param since topic to start position ({@code earliest}, {@code now} or a cursor), in the
   *     order the topics should have (use a {@link LinkedHashMap})
   */
  public Subscription subscribe(Map<String, String> since, SubscribeOptions options, SubscriptionListener listener) {
    checkOpen();
    SubscriptionImpl s = new SubscriptionImpl(this, since, options, listener);
    register(s);
    s.start();
    return s;
  }

  /**
   * Follows topics as a blocking, closeable sequence of events (default options).
   *
   * @see #stream(List, String, SubscribeOptions)
   */
  public EventStream stream(List<String> topics, String since) {
    return stream(topics, since, SubscribeOptions.defaults());
  }

  /**
   * Follows topics as a blocking, closeable sequence of events: the pull-style counterpart of
   * {@link #subscribe(List, String, SubscribeOptions, SubscriptionListener)}.
   */
  public EventStream stream(List<String> topics, String since, SubscribeOptions options) {
    return new EventStream(this, sinceMap(topics, since), options);
  }

  /**
   * A local copy of {@code topic}'s state, kept current (default options). Loads the state before
   * returning.
   *
   * @throws TidingsException when the state cannot be loaded
   */
  public Mirror mirror(String topic) {
    return mirror(topic, SubscribeOptions.defaults());
  }

  /**
   * A local copy of {@code topic}'s state, kept current over the given transports. Loads the
   * state before returning; the mode is always full.
   *
   * @throws TidingsException when the state cannot be loaded
   */
  public Mirror mirror(String topic, SubscribeOptions options) {
    Objects.requireNonNull(topic, "topic");
    return new Mirror(this, topic, options);
  }

  private static Map<String, String> sinceMap(List<String> topics, String since) {
    Map<String, String> map = new LinkedHashMap<>();
    for (String t : topics) {
      if (map.put(Objects.requireNonNull(t, "topic"), since == null ? "now" : since) != null) {
        throw new IllegalArgumentException("topic " + t + " is given twice");
      }
    }
    if (map.size() > 1 && since != null && !since.equals("now") && !since.equals("earliest")) {
      throw new IllegalArgumentException("one cursor cannot start several topics; pass a map of cursors");
    }
    return map;
  }

  // -------------------------------------------------------------------------------- topics

  /** Every topic, sorted by name ({@code GET /v1/topics}, all pages). */
  public List<TopicInfo> topics() {
    return topics(null);
  }

  /**
   * The topics whose names start with {@code prefix}, sorted by name ({@code GET /v1/topics}, all
   * pages).
   *
   * @param prefix a name prefix; null or empty for every topic
   */
  public List<TopicInfo> topics(String prefix) {
    List<TopicInfo> topics = new ArrayList<>();
    String after = null;
    while (true) {
      StringBuilder q = new StringBuilder("/v1/topics");
      char sep = '?';
      if (prefix != null && !prefix.isEmpty()) {
        q.append(sep).append("prefix=").append(enc(prefix));
        sep = '&';
      }
      if (after != null) {
        q.append(sep).append("after=").append(enc(after));
      }
      JsonNode json = send(request(q.toString()).GET().build());
      for (JsonNode t : json.path("topics")) {
        topics.add(new TopicInfo(text(t, "topic"), text(t, "cursor"), t.path("first_offset").asLong(),
            t.path("last_offset").asLong(), t.path("keys").asLong(), instant(t, "last_event_time")));
      }
      String next = text(json, "next_after");
      if (next == null || next.equals(after)) {
        return topics;
      }
      after = next;
    }
  }

  /**
   * Closes the client's subscriptions and mirrors, and releases its threads. Calls made after
   * closing fail with {@link IllegalStateException}.
   */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      for (Subscription s : List.copyOf(subscriptions)) {
        s.close();
      }
      executor.shutdownNow();
    }
  }

  // -------------------------------------------------------------------------------- plumbing

  HttpClient http() {
    return http;
  }

  Duration requestTimeout() {
    return requestTimeout;
  }

  Duration connectTimeout() {
    return connectTimeout;
  }

  String authorization() {
    return authorization;
  }

  /** The WebSocket endpoint: the base URI with {@code ws} or {@code wss}. */
  URI webSocketUri() {
    String s = base.startsWith("https:") ? "wss:" + base.substring(6) : "ws:" + base.substring(base.indexOf(':') + 1);
    return URI.create(s + "/v1/ws");
  }

  void register(Subscription s) {
    subscriptions.add(s);
    if (closed.get()) {
      subscriptions.remove(s);
      throw new IllegalStateException("client is closed");
    }
  }

  void unregister(Subscription s) {
    subscriptions.remove(s);
  }

  void checkOpen() {
    if (closed.get()) {
      throw new IllegalStateException("client is closed");
    }
  }

  HttpRequest.Builder request(String pathAndQuery) {
    if (closed.get()) {
      throw new IllegalStateException("client is closed");
    }
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + pathAndQuery))
        .timeout(requestTimeout)
        .header("Accept", "application/json")
        .header("User-Agent", USER_AGENT);
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    return b;
  }

  private JsonNode send(HttpRequest request) {
    HttpResponse<byte[]> response;
    try {
      response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
    } catch (HttpTimeoutException e) {
      throw new TidingsException(0, "timeout", request.method() + " " + request.uri() + ": " + e.getMessage(), null, e);
    } catch (ConnectException e) {
      throw new TidingsException(0, "io_error", "cannot connect to " + request.uri() + ": " + e, null, e);
    } catch (IOException e) {
      throw new TidingsException(0, "io_error", request.method() + " " + request.uri() + ": " + e, null, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new TidingsException(0, "interrupted", "interrupted during " + request.method() + " " + request.uri(), null, e);
    }
    int status = response.statusCode();
    JsonNode json = parse(response.body());
    if (status >= 200 && status < 300) {
      if (json == null || !json.isObject()) {
        throw new TidingsException(status, "invalid_response", "expected a JSON object from " + request.uri(), null, null);
      }
      return json;
    }
    throw error(status, json, response);
  }

  static TidingsException error(int status, JsonNode json, HttpResponse<?> response) {
    JsonNode err = json == null ? null : json.get("error");
    String code = err != null ? text(err, "code") : null;
    String message = err != null ? text(err, "message") : null;
    if (code == null) {
      code = "http_" + status;
    }
    if (message == null) {
      message = "HTTP " + status + " from " + response.request().method() + " " + response.uri();
    }
    if (status == 410 && "cursor_expired".equals(code)) {
      String stateUrl = text(json, "state_url");
      if (stateUrl == null) {
        stateUrl = text(err, "state_url");
      }
      return new CursorExpiredException(message, stateUrl);
    }
    Duration retryAfter = response.headers().firstValue("Retry-After").map(TidingsClient::retryAfter).orElse(null);
    return new TidingsException(status, code, message, retryAfter, null);
  }

  /** A {@code Retry-After} value: delta-seconds or an HTTP date (RFC 9110); null when unreadable. */
  static Duration retryAfter(String value) {
    String v = value.trim();
    try {
      long seconds = Long.parseLong(v);
      return seconds < 0 ? null : Duration.ofSeconds(seconds);
    } catch (NumberFormatException notSeconds) {
      try {
        Duration d = Duration.between(Instant.now(), ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant());
        return d.isNegative() ? Duration.ZERO : d;
      } catch (DateTimeParseException notDate) {
        return null;
      }
    }
  }

  static JsonNode parse(byte[] body) {
    if (body == null || body.length == 0) {
      return null;
    }
    try {
      return MAPPER.readTree(body);
    } catch (IOException e) {
      return null;
    }
  }

  static Event event(JsonNode e) {
    return new Event(text(e, "topic"), e.path("offset").asLong(), text(e, "cursor"), text(e, "id"), text(e, "type"),
        text(e, "key"), e.get("data"), instant(e, "time"));
  }

  static String text(JsonNode node, String field) {
    if (node == null) {
      return null;
    }
    JsonNode v = node.get(field);
    return v == null || v.isNull() ? null : v.asText();
  }

  static Instant instant(JsonNode node, String field) {
    String s = text(node, field);
    try {
      return s == null ? null : Instant.parse(s);
    } catch (DateTimeParseException e) {
      return null;
    }
  }

  static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  /** Settings of a {@link TidingsClient}. */
  public static final class Builder {
    private final URI uri;
    private String token;
    private Duration connectTimeout = Duration.ofSeconds(10);
    private Duration requestTimeout = Duration.ofSeconds(30);

    private Builder(URI uri) {
      this.uri = Objects.requireNonNull(uri, "uri");
      String scheme = uri.getScheme();
      if (!"http".equalsIgnoreCase(scheme) && !"https".equalsIgnoreCase(scheme)) {
        throw new IllegalArgumentException("not an http(s) URI: " + uri);
      }
    }

    /** A bearer token (a JWT or an API key), sent as {@code Authorization: Bearer <token>}. */
    public Builder token(String value) {
      this.token = value;
      return this;
    }

    /** How long to wait for a connection (default 10 s). */
    public Builder connectTimeout(Duration value) {
      this.connectTimeout = positive(value, "connectTimeout");
      return this;
    }

    /** How long to wait for a whole answer (default 30 s). */
    public Builder requestTimeout(Duration value) {
      this.requestTimeout = positive(value, "requestTimeout");
      return this;
    }

    /** The client. */
    public TidingsClient build() {
      return new TidingsClient(this);
    }

    private static Duration positive(Duration d, String name) {
      Objects.requireNonNull(d, name);
      if (d.isZero() || d.isNegative()) {
        throw new IllegalArgumentException(name + " must be positive");
      }
      return d;
    }
  }
}
