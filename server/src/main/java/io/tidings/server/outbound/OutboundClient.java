package io.tidings.server.outbound;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpClosedException;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.core.net.SocketAddress;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.channels.ClosedChannelException;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLException;

/**
 * Outbound HTTP POSTs to pinned targets (webhooks, Web Push), on one shared Vert.x HTTP client:
 * HTTP/1.1 with keep-alive, connections pooled per pinned address and URL authority, default JDK
 * trust for https.
 *
 * <p>What makes it safe to point at user-supplied URLs: it connects to {@link PinnedTarget#address()}
 * only and never resolves the host itself (the URL's host still goes into the {@code Host} header, TLS
 * server name indication and certificate checks); it never follows redirects; it does not decompress
 * bodies; and it reads a bounded amount of any response, whatever the server sends.
 */
public final class OutboundClient implements AutoCloseable {
  /**
   * Past the snippet, how much more of a response body is read and dropped so that its connection can
   * be reused; a longer body closes the connection instead.
   */
  static final int DRAIN_BYTES = 64 * 1024;
  /** Well below the 60 s default: many servers drop idle connections sooner, and reusing one they are closing fails the POST. */
  private static final int KEEP_ALIVE_SECONDS = 30;
  /** Headers the client owns: a caller's value would break the framing or the pinning. */
  private static final Set<String> OWN_HEADERS = Set.of("host", "content-length", "transfer-encoding", "connection",
      "keep-alive", "upgrade", "te", "trailer", "expect", "proxy-connection");

  /**
   * @param userAgent the {@code User-Agent} header (unless a POST sets its own); null means {@code Tidings}
   * @param connectTimeoutMillis the TCP connect timeout (also bounded by each POST's timeout); 0 or
   *     less means 10 s
   * @param maxConnectionsPerTarget the pool size per pinned address and authority; 0 or less means 8
   * @param responseSnippetBytes how much of a response body to keep; 0 or less means 1024
   * @param trustPemPath a PEM file of CA certificates to trust instead of the JDK's default trust
   *     store; null (the default, and what production uses) for the JDK's. Meant for tests against local
   *     https servers with self-signed certificates.
   */
  public record Options(String userAgent, long connectTimeoutMillis, int maxConnectionsPerTarget,
      int responseSnippetBytes, String trustPemPath) {
    public Options {
      userAgent = userAgent == null ? "Tidings" : userAgent;
      connectTimeoutMillis = connectTimeoutMillis <= 0 ? 10_000 : connectTimeoutMillis;
      maxConnectionsPerTarget = maxConnectionsPerTarget <= 0 ? 8 : maxConnectionsPerTarget;
      responseSnippetBytes = responseSnippetBytes <= 0 ? 1024 : responseSnippetBytes;
    }

    /** With the JDK's default trust store. */
    public Options(String userAgent, long connectTimeoutMillis, int maxConnectionsPerTarget, int responseSnippetBytes) {
      this(userAgent, connectTimeoutMillis, maxConnectionsPerTarget, responseSnippetBytes, null);
    }
  }

  private final Vertx vertx;
  private final Options options;
  private final HttpClientAgent client;
  private volatile boolean closed;

  public OutboundClient(Vertx vertx, Options options) {
    this.vertx = vertx;
    this.options = options;
    HttpClientOptions http = new HttpClientOptions()
        .setProtocolVersion(HttpVersion.HTTP_1_1)
        .setUseAlpn(false)
        .setKeepAlive(true)
        .setKeepAliveTimeout(KEEP_ALIVE_SECONDS)
        .setPipelining(false)
        // A compressed body could expand without bound before the snippet limit applies.
        .setDecompressionSupported(false)
        .setVerifyHost(true)
        .setMaxRedirects(0)
        .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, options.connectTimeoutMillis()));
    if (options.trustPemPath() != null) {
      http.setTrustOptions(new PemTrustOptions().addCertPath(options.trustPemPath()));
    }
    this.client = vertx.httpClientBuilder()
        .with(http)
        .with(new PoolOptions().setHttp1MaxSize(options.maxConnectionsPerTarget()))
        // A connection's failure reaches the POST using it; without a handler Vert.x would also log
        // it at ERROR, and any target could then fill the server's log.
        .withConnectHandler(connection -> connection.exceptionHandler(e -> { }))
        .build();
  }

  /**
   * POSTs {@code body} to the target: connects to {@code target.address()} only (the {@code Host}
   * header and TLS server name are the URL's host), never follows redirects (a 3xx is returned as a
   * response), keeps at most {@code responseSnippetBytes} of the response body as the snippet and
   * drops the rest, closing the connection when the body goes on past a bounded amount. The whole
   * exchange is bounded by {@code timeoutMillis}: a body still arriving then is cut off, and the
   * response completes with what has arrived.
   *
   * <p>Completes with any status; fails with {@link OutboundFailure} when there is no response
   * (connection refused or reset, TLS failure, timeout, invalid HTTP). Callable from any thread.
   *
   * @param headers request headers; {@code Host}, {@code Content-Length}, {@code Transfer-Encoding}
   *     and other hop-by-hop headers are the client's own and ignored here
   * @throws IllegalArgumentException for a header name or value that is not valid HTTP, or a
   *     timeout that is not positive
   */
  public Future<OutboundResponse> post(PinnedTarget target, Map<String, String> headers, Buffer body, long timeoutMillis) {
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(body, "body");
    if (timeoutMillis <= 0) {
      throw new IllegalArgumentException("timeoutMillis must be positive: " + timeoutMillis);
    }
    MultiMap requestHeaders = requestHeaders(headers);
    if (closed) {
      return Future.failedFuture(closedFailure(null));
    }
    Promise<OutboundResponse> promise = Promise.promise();
    Exchange exchange = new Exchange(target, requestHeaders, body, timeoutMillis, promise, System.nanoTime());
    Context context = vertx.getOrCreateContext();
    if (context == Vertx.currentContext()) {
      exchange.start();
    } else {
      // Everything about one exchange then happens on this context's event loop: no locking.
      context.runOnContext(v -> exchange.start());
    }
    return promise.future();
  }

  private MultiMap requestHeaders(Map<String, String> headers) {
    MultiMap out = HttpHeaders.headers();
    boolean userAgent = false;
    if (headers != null) {
      for (Map.Entry<String, String> h : headers.entrySet()) {
        String name = h.getKey();
        String value = h.getValue();
        if (name == null || value == null) {
          continue;
        }
        if (!validName(name) || !validValue(value)) {
          throw new IllegalArgumentException("invalid header: " + name);
        }
        String lower = name.toLowerCase(Locale.ROOT);
        if (OWN_HEADERS.contains(lower)) {
          continue;
        }
        userAgent |= lower.equals("user-agent");
        out.add(name, value);
      }
    }
    if (!userAgent) {
      out.set(HttpHeaders.USER_AGENT, options.userAgent());
    }
    return out;
  }

  private static boolean validName(String name) {
    if (name.isEmpty()) {
      return false;
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      boolean token = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
      if (!token) {
        return false;
      }
    }
    return true;
  }

  private static boolean validValue(String value) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if ((c < 0x20 && c != '\t') || c == 0x7f || c > 0xff) {
        return false;
      }
    }
    return true;
  }

  /** Closes the pooled connections; POSTs under way fail. Does not block. */
  @Override
  public void close() {
    closed = true;
    client.close();
  }

  /** One POST, confined to one event loop. */
  private final class Exchange {
    private final PinnedTarget target;
    private final MultiMap headers;
    private final Buffer body;
    private final long timeoutMillis;
    private final Promise<OutboundResponse> promise;
    private final long startNanos;
    private final byte[] snippet;
    private int snippetLength;
    private long dropped;
    private long timer = -1;
    private HttpClientRequest request;
    private HttpClientResponse response;
    private boolean done;

    Exchange(PinnedTarget target, MultiMap headers, Buffer body, long timeoutMillis, Promise<OutboundResponse> promise,
        long startNanos) {
      this.target = target;
      this.headers = headers;
      this.body = body;
      this.timeoutMillis = timeoutMillis;
      this.promise = promise;
      this.startNanos = startNanos;
      this.snippet = new byte[options.responseSnippetBytes()];
    }

    void start() {
      long left = Math.max(1, timeoutMillis - (System.nanoTime() - startNanos) / 1_000_000);
      timer = vertx.setTimer(left, id -> timedOut());
      RequestOptions spec = new RequestOptions()
          .setMethod(HttpMethod.POST)
          // The pinned address: no DNS here, whatever the URL's host says.
          .setServer(SocketAddress.inetSocketAddress(new InetSocketAddress(target.address(), target.port())))
          .setHost(authorityHost(target.host()))
          .setPort(target.port())
          .setSsl(target.tls())
          .setURI(target.pathAndQuery())
          .setFollowRedirects(false)
          .setConnectTimeout(Math.min(options.connectTimeoutMillis(), left))
          .setHeaders(headers)
          // Vert.x would write an IPv6 host without brackets; the URL's authority is the Host header.
          .putHeader(HttpHeaders.HOST, target.port() == (target.tls() ? 443 : 80)
              ? target.host() : target.host() + ":" + target.port());
      Future<HttpClientRequest> created;
      try {
        created = client.request(spec);
      } catch (RuntimeException e) {
        fail(e);
        return;
      }
      created.onComplete(ar -> {
        if (ar.failed()) {
          fail(ar.cause());
          return;
        }
        HttpClientRequest req = ar.result();
        if (done) {
          req.reset();
          return;
        }
        this.request = req;
        req.send(body).onComplete(sent -> {
          if (sent.failed()) {
            fail(sent.cause());
          } else {
            onResponse(sent.result());
          }
        });
      });
    }

    private void onResponse(HttpClientResponse resp) {
      if (done) {
        return;
      }
      response = resp;
      resp.handler(this::onChunk);
      resp.endHandler(v -> complete());
      // The status has arrived: a body that breaks off still leaves an answer to report.
      resp.exceptionHandler(e -> cut());
    }

    private void onChunk(Buffer chunk) {
      if (done) {
        return;
      }
      int length = chunk.length();
      int take = Math.min(length, snippet.length - snippetLength);
      if (take > 0) {
        chunk.getBytes(0, take, snippet, snippetLength);
        snippetLength += take;
      }
      dropped += length - take;
      if (dropped > DRAIN_BYTES) {
        cut();
      }
    }

    /** Completes with what has arrived and closes the connection under a body that has not ended. */
    private void cut() {
      complete();
      if (request != null) {
        // HTTP/1.1 cannot abandon a response mid-body and keep the connection: reset closes it.
        request.reset();
      }
    }

    private void timedOut() {
      timer = -1;
      if (done) {
        return;
      }
      if (response != null) {
        cut();
        return;
      }
      fail(new OutboundFailure(OutboundFailure.Kind.TIMEOUT, "no response from " + target.host() + " ("
          + target.address().getHostAddress() + ") within " + timeoutMillis + " ms", null));
      if (request != null) {
        request.reset();
      }
    }

    private void complete() {
      if (done) {
        return;
      }
      done = true;
      cancelTimer();
      promise.complete(new OutboundResponse(response.statusCode(), response.headers(),
          decode(snippet, snippetLength), System.nanoTime() - startNanos));
    }

    private void fail(Throwable cause) {
      if (done) {
        return;
      }
      done = true;
      cancelTimer();
      promise.fail(cause instanceof OutboundFailure ? cause : closed ? closedFailure(cause) : classify(cause, target));
    }

    private void cancelTimer() {
      if (timer >= 0) {
        vertx.cancelTimer(timer);
        timer = -1;
      }
    }
  }

  private static OutboundFailure closedFailure(Throwable cause) {
    return new OutboundFailure(OutboundFailure.Kind.CONNECT, "the outbound client is closed", cause);
  }

  /**
   * The host for Vert.x's authority, used for TLS server name and certificate checks: an IPv6 literal
   * without brackets, as the JDK expects it.
   */
  static String authorityHost(String host) {
    return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
  }

  /** UTF-8, malformed sequences replaced; a sequence cut by the snippet limit is dropped rather than replaced. */
  static String decode(byte[] bytes, int length) {
    int end = length;
    // Back off over a trailing incomplete multi-byte sequence (at most 3 bytes).
    for (int i = 1; i <= Math.min(3, length); i++) {
      int b = bytes[length - i] & 0xff;
      if ((b & 0xc0) != 0x80) {
        int need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
        if (need > i) {
          end = length - i;
        }
        break;
      }
    }
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPLACE)
        .onUnmappableCharacter(CodingErrorAction.REPLACE);
    try {
      return decoder.decode(ByteBuffer.wrap(bytes, 0, end)).toString();
    } catch (CharacterCodingException e) {
      return new String(bytes, 0, end, StandardCharsets.UTF_8);
    }
  }

  /** Sorts a Vert.x or Netty failure into an {@link OutboundFailure} with a message for the target's owner. */
  static OutboundFailure classify(Throwable cause, PinnedTarget target) {
    String where = target.host() + " (" + target.address().getHostAddress() + ":" + target.port() + ")";
    for (Throwable c = cause; c != null; c = c.getCause()) {
      if (c instanceof SSLException) {
        return new OutboundFailure(OutboundFailure.Kind.TLS, "TLS with " + where + " failed: " + c.getMessage(), cause);
      }
    }
    String detail = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
    if (cause instanceof TimeoutException || cause instanceof io.netty.channel.ConnectTimeoutException
        || cause.getClass().getSimpleName().endsWith("TimeoutException")) {
      return new OutboundFailure(OutboundFailure.Kind.CONNECT, "connecting to " + where + " timed out", cause);
    }
    if (cause instanceof HttpClosedException || cause instanceof ClosedChannelException) {
      return new OutboundFailure(OutboundFailure.Kind.CONNECT, where + " closed the connection before responding", cause);
    }
    if (cause instanceof IOException) {
      return new OutboundFailure(OutboundFailure.Kind.CONNECT, "connection to " + where + " failed: " + detail, cause);
    }
    return new OutboundFailure(OutboundFailure.Kind.PROTOCOL, "invalid response from " + where + ": " + detail, cause);
  }
}
