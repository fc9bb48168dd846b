package io.tidings.server.config;

import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Everything {@code tidings serve} can be told, with its defaults. Field names map to snake_case
 * YAML keys; {@code docs/configuration.md} documents each one.
 */
public final class TidingsConfig {
  public Server server = new Server();
  public Store store = new Store();
  public List<Retention> retention = new ArrayList<>();
  public Events events = new Events();
  public Pull pull = new Pull();
  public Push push = new Push();
  /** Authentication and authorization; absent (null) means everything is allowed to everyone. */
  public Auth auth;
  /** Abuse and overload protection: rate limits, connection caps, polling pace. */
  public Limits limits = new Limits();
  /** Webhook delivery, and the outbound guard that Web Push shares. */
  public Webhooks webhooks = new Webhooks();
  /** Web Push (RFC 8030) delivery to browsers and phones. */
  public WebPush webpush = new WebPush();

  /** The listener. */
  public static final class Server {
    public String host = "127.0.0.1";
    public int port = 7070;
    /** Event-loop threads; 0 means one per core. */
    public int eventLoops = 0;
    public Duration shutdownGrace = Duration.ofSeconds(30);
    @JsonDeserialize(using = SizeDeserializer.class)
    public long maxBodySize = 1 << 20;
    @JsonDeserialize(using = SizeDeserializer.class)
    public long maxHeaderSize = 16 << 10;
    public Duration idleTimeout = Duration.ofMinutes(5);
    /** An HTTP/1.x request must arrive whole (head and body) within this time of its first byte. */
    public Duration requestTimeout = Duration.ofSeconds(30);
    public Tls tls;
    /** epoll (default), io_uring or nio; a native one that does not load falls back to nio. */
    public String transport = "epoll";
    /** Origins whose browser pages may call the API; absent means any origin, or same-origin only with auth. */
    public List<String> allowedOrigins;
    /** The JSON-lines access log: null (off, the default), {@code stdout}, or a file path. */
    @JsonDeserialize(using = AccessLogDeserializer.class)
    public String accessLog;
  }

  /** TLS for the listener (h2 and HTTP/1.1 over TLS on the same port). */
  public static final class Tls {
    public String cert;
    public String key;
  }

  /** Where events are stored. */
  public static final class Store {
    /** sqlite (default), memory, or redis. */
    public String kind = "sqlite";
    public String path = "./tidings-data";
    public Redis redis = new Redis();
    public Sqlite sqlite = new Sqlite();
    /** How often retention rules are applied in the background. */
    public Duration retentionInterval = Duration.ofSeconds(10);
    /** Idempotency ids remembered per topic at least... */
    public long dedupeMinIds = 100_000;
    /** ...and for at least this long. */
    public Duration dedupeMinAge = Duration.ofHours(24);
  }

  /** The Redis engine (a later release). */
  public static final class Redis {
    public String url = "redis://127.0.0.1:6379";
  }

  /** Tuning of the embedded SQLite store. */
  public static final class Sqlite {
    public int writerQueue = 10_000;
    public int maxBatchEvents = 8192;
    public int readers = 4;
    public int readQueue = 10_000;
  }

  /** One retention rule; the first whose pattern matches a topic applies. */
  public static final class Retention {
    public String topic;
    public long maxEvents;
    public Duration maxAge;
  }

  /** Limits on published events. */
  public static final class Events {
    @JsonDeserialize(using = SizeDeserializer.class)
    public long maxDataSize = 64 << 10;
    public int maxBatch = 1000;
  }

  /** Polling, incremental sync and long polling. */
  public static final class Pull {
    public int changesDefaultLimit = 100;
    public int changesMaxLimit = 1000;
    public int stateDefaultLimit = 1000;
    public int stateMaxLimit = 10_000;
    public int topicsMaxLimit = 10_000;
    public Duration maxWait = Duration.ofSeconds(60);
    /** max-age of a changes response that ends at the head (1s to 5s). */
    public Duration headMaxAge = Duration.ofSeconds(1);
    /** Long polls held at once; further ones are answered 503 with Retry-After. */
    public int maxWaiting = 100_000;
    public PollInterval pollInterval = new PollInterval();
  }

  /** How the {@code Tidings-Poll-Interval} advice is computed. */
  public static final class PollInterval {
    public Duration min = Duration.ofSeconds(1);
    public Duration max = Duration.ofSeconds(30);
    /** Time constant of the change-rate average: older activity weighs e^-1 less per window. */
    public Duration rateWindow = Duration.ofSeconds(60);
    /** Relative jitter, 0.2 = ±20%. */
    public double jitter = 0.2;
    /** Held long polls at which the advice doubles (server load). */
    public int busyWaiting = 10_000;
  }

  /** Push transports (SSE, WebSocket) and the hub that feeds them. */
  public static final class Push {
    /** Events read from the store per catch-up step. */
    public int catchUpPage = 500;
    public Outbound outbound = new Outbound();
    public Sse sse = new Sse();
    public Ws ws = new Ws();
    public Grpc grpc = new Grpc();
  }

  /** gRPC {@code Subscribe} streams (docs/grpc.md). */
  public static final class Grpc {
    /** Longest silence before a {@code Heartbeat} message. */
    public Duration heartbeat = Duration.ofSeconds(15);
    /** Topics one {@code Subscribe} call may carry. */
    public int maxTopics = 1000;
  }

  /** What one push connection may have queued before it counts as a slow consumer. */
  public static final class Outbound {
    @JsonDeserialize(using = SizeDeserializer.class)
    public long maxBytes = 2 << 20;
    public int maxMessages = 4096;
    /** A connection whose socket accepts nothing for this long is closed as dead. */
    public Duration stallTimeout = Duration.ofSeconds(60);
  }

  /** Server-Sent Events. */
  public static final class Sse {
    /** False answers {@code /v1/sse} with 403 {@code transport_disabled}, as a proxy that refuses streams would. */
    public boolean enabled = true;
    /** The reconnection delay sent in {@code retry:} (jittered by ±20%). */
    public Duration retry = Duration.ofSeconds(3);
    /** Longest silence before a heartbeat comment. */
    public Duration heartbeat = Duration.ofSeconds(15);
    /** Topics one stream may carry (its cursor grows with each). */
    public int maxTopics = 32;
  }

  /** WebSocket. */
  public static final class Ws {
    /** False refuses WebSocket upgrades with 403 {@code transport_disabled}: clients fall back to SSE or polling. */
    public boolean enabled = true;
    public Duration pingInterval = Duration.ofSeconds(25);
    /** A connection that sends nothing (not even a pong) for this long is closed. */
    public Duration idleTimeout = Duration.ofSeconds(60);
    @JsonDeserialize(using = SizeDeserializer.class)
    public long maxFrameSize = 1 << 20;
    public int maxSubscriptions = 1000;
    /** Publishes awaiting the store per connection; the socket is not read while at this limit. */
    public int maxPendingPublishes = 64;
  }

  /** Who may do what. Present means requests need credentials beyond what {@code anonymous} grants. */
  public static final class Auth {
    public Jwt jwt;
    public List<ApiKey> apiKeys = new ArrayList<>();
    public Anonymous anonymous = new Anonymous();
  }

  /** JSON Web Tokens: where their verification keys come from and how they are checked. */
  public static final class Jwt {
    /** HS256 secret, the raw UTF-8 string (at least 32 bytes). */
    public String hs256Secret;
    /** PEM file of an RSA public key (or certificate) for RS256. */
    public String rs256PublicKey;
    /** PEM file of a P-256 public key (or certificate) for ES256. */
    public String es256PublicKey;
    /** A JWK set: a file, or an http(s) URL fetched without blocking. */
    public String jwks;
    /** Tolerated clock difference when checking {@code exp} and {@code nbf}. */
    public Duration clockSkew = Duration.ofSeconds(30);
    /** A JWKS URL is fetched again this often, so that removed keys stop verifying. */
    public Duration jwksRefreshInterval = Duration.ofMinutes(10);
    /** A token with an unknown {@code kid} fetches the set again, at most once per this interval. */
    public Duration jwksMinRefreshInterval = Duration.ofSeconds(30);
    /** When set, the {@code iss} a token must carry. */
    public String issuer;
    /** When set, a value the token's {@code aud} must contain. */
    public String audience;
  }

  /** One API key: only the SHA-256 of the key itself is configured. */
  public static final class ApiKey {
    public String name;
    public String sha256;
    public List<String> publish = new ArrayList<>();
    public List<String> subscribe = new ArrayList<>();
    public boolean admin;
    /** May register webhook endpoints (over topics it may subscribe to) and manage its own. */
    public boolean webhooks;
  }

  /** What requests without credentials may do. */
  public static final class Anonymous {
    public List<String> subscribe = new ArrayList<>();
    public List<String> publish = new ArrayList<>();
  }

  /** Abuse and overload protection. */
  public static final class Limits {
    /** Token-bucket rate limits; absent (null) means nothing is rate limited. */
    public Rate rate;
    /** Push connections (SSE streams, WebSockets) and held long polls at once, server-wide; 0: no cap. */
    public int maxConnections = 100_000;
    /** The same, per principal (per client IP for requests without credentials); 0: no cap. */
    public int maxConnectionsPerPrincipal = 0;
    /**
     * A poll of the same topic and cursor repeated sooner than the advised interval divided by
     * this factor gets 429; 0 (the default) turns the check off.
     */
    public double pollAdviceFactor = 0;
    /** Most keys (principals, IPs, poll identities) each table of limits tracks at once. */
    public int maxKeys = 100_000;
  }

  /** Rates per principal (or client IP); a rate left out is not limited. */
  public static final class Rate {
    /** Publish requests: {@code POST /v1/events} and WebSocket {@code publish} ops. */
    public Double publishPerSecond;
    /** Pull requests: {@code /v1/state}, {@code /v1/changes}, {@code /v1/topics}. */
    public Double pollsPerSecond;
    /** New connections: the first API request of each TCP connection, every SSE stream and WebSocket upgrade. */
    public Double connectionsPerSecond;
    /** Subscriptions: SSE streams and WebSocket {@code subscribe} ops. */
    public Double subscribePerSecond;
    /** Bucket capacity in seconds of rate: how much unused allowance a quiet client may spend at once. */
    public double burst = 1;
    /** {@code principal}: per API key or JWT subject, per client IP without credentials; {@code ip}: always per IP. */
    public String per = "principal";
    /** WebSocket ops refused this many times within {@code ws_refusal_window} close the connection with 4029. */
    public int wsMaxRefusals = 10;
    public Duration wsRefusalWindow = Duration.ofSeconds(10);
  }

  /** Webhooks: Standard Webhooks requests to registered endpoints, with durable retries. */
  public static final class Webhooks {
    /** CIDRs exempt from the SSRF guard (also for Web Push endpoints); they may use {@code http://}. */
    public List<String> allowTargets = new ArrayList<>();
    /** One attempt's bound: connecting, sending and the response head. */
    public Duration timeout = Duration.ofSeconds(15);
    /** Delay before each attempt of a message; after the last, attempts go on at the last delay. */
    public List<Duration> retrySchedule = new ArrayList<>(List.of(Duration.ZERO, Duration.ofSeconds(5),
        Duration.ofMinutes(5), Duration.ofMinutes(30), Duration.ofHours(2), Duration.ofHours(5),
        Duration.ofHours(10), Duration.ofHours(10)));
    /** Relative jitter of each retry delay, 0.2 = ±20%. */
    public double retryJitter = 0.2;
    /** An endpoint failing this long, with its schedule used up, is disabled (it keeps its cursor). */
    public Duration disableAfter = Duration.ofDays(5);
    /** Requests in flight at once over all endpoints (each endpoint has at most one). */
    public int maxInFlight = 64;
    /** Requests per second per endpoint; 0: no limit. An endpoint may set its own {@code rate_limit}. */
    public double endpointRateLimit = 0;
    /** Endpoints the server holds; creating one more is refused. */
    public int maxEndpoints = 10_000;
    /** Attempts kept per endpoint for {@code GET /v1/webhooks/{id}/deliveries}. */
    public int attemptLog = 100;
    /** How long the old secret keeps signing after {@code rotate-secret}. */
    public Duration secretOverlap = Duration.ofHours(24);
    /** Events per request unless an endpoint says otherwise ({@code batch.max_events}). */
    public int maxEvents = 100;
    /** Largest request body; a batch is cut before it grows past this. */
    @JsonDeserialize(using = SizeDeserializer.class)
    public long maxBodySize = 1 << 20;
  }

  /** Web Push: encrypted notifications through the browsers' push services. */
  public static final class WebPush {
    /** The VAPID key pair; absent: one is generated on first start and kept in the store. */
    public Vapid vapid;
    /** The contact the VAPID token names ({@code mailto:} or {@code https:}): push services reach out to it. */
    public String subject = "mailto:webpush@tidings.invalid";
    /** How long a push service keeps an undelivered message. */
    public Duration ttl = Duration.ofHours(24);
    /** {@code very-low}, {@code low}, {@code normal} or {@code high} (RFC 8030 section 5.3). */
    public String urgency = "normal";
    /** Subscriptions the server holds; registering one more is refused. */
    public int maxSubscriptions = 100_000;
  }

  /** A configured VAPID key pair, base64url as browsers use it. */
  public static final class Vapid {
    /** The uncompressed P-256 public point (65 bytes). */
    public String publicKey;
    /** The private scalar (32 bytes). */
    public String privateKey;
  }
}
